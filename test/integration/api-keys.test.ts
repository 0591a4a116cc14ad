import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { TestGateway, TestTenant, http } from '../support/test-cluster.js';
import { freePort } from '../support/redis-server.js';

const randomKey = () => `sg_${randomBytes(32).toString('base64url')}`;

/** Polls `check` until it holds; the time it took, or a failure after `withinMs`. */
async function within(withinMs: number, check: () => Promise<boolean>): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await check()) return performance.now() - started;
    if (performance.now() - started > withinMs) expect.fail(`not within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('API keys: several per tenant, rotation, revocation on every gateway, unknown keys', function () {
  this.timeout(60_000);
  let gw: TestGateway;
  /** a second gateway whose Redis is unreachable: it hears no broadcast, only the keys-version watch */
  let deaf: TestGateway;
  before(async () => {
    gw = await TestGateway.start();
    deaf = await TestGateway.start({ redis: `redis://127.0.0.1:${await freePort()}` });
  });
  after(async () => {
    await deaf?.stop();
    await gw?.stop();
  });

  const whoAmI = (t: TestTenant, key: string, via: TestGateway = gw) =>
    http('GET', `${via.gateway.tenantUrl}/v1/users?pageSize=1`, { headers: { authorization: `Bearer ${key}` } });

  it('rotates: a second key works beside the first, the first is revoked, lists show both without the keys', async () => {
    const t = await gw.createTenant('keys');
    const first = (await gw.admin('GET', `/admin/tenants/${t.id}/keys`)).body as unknown as Array<{ keyId: string }>;
    expect(first).to.have.length(1);

    const made = await gw.admin('POST', `/admin/tenants/${t.id}/keys`);
    expect(made.status).to.equal(201);
    expect(made.body).to.have.all.keys('keyId', 'apiKey', 'createdAt');
    const second = made.body.apiKey as string;
    expect((await whoAmI(t, t.apiKey)).status).to.equal(200);
    expect((await whoAmI(t, second)).status).to.equal(200);

    expect((await gw.admin('DELETE', `/admin/tenants/${t.id}/keys/${first[0]!.keyId}`)).status).to.equal(204);
    const refused = await whoAmI(t, t.apiKey);
    expect(refused.status, 'refused on this gateway at once').to.equal(401);
    expect(refused.body.code).to.equal('UNAUTHENTICATED');
    expect((await whoAmI(t, second)).status).to.equal(200);

    await gw.gateway.authenticator.flushUsage();
    const listed = await gw.admin('GET', `/admin/tenants/${t.id}/keys`);
    expect(listed.text).not.to.include(second);
    expect(listed.text).not.to.include(t.apiKey);
    const byId = new Map((listed.body as unknown as Array<Record<string, string>>).map((k) => [k.keyId, k]));
    expect(byId.get(first[0]!.keyId)).to.have.property('revokedAt');
    expect(byId.get(made.body.keyId as string)).to.have.property('lastUsedAt');
    expect(byId.get(made.body.keyId as string)).not.to.have.property('revokedAt');

    expect((await gw.admin('DELETE', `/admin/tenants/${t.id}/keys/${first[0]!.keyId}`)).status, 'a second revocation').to.equal(404);
    expect((await gw.admin('DELETE', `/admin/tenants/${t.id}/keys/not-a-key`)).status).to.equal(404);
    expect((await gw.admin('POST', '/admin/tenants/nobody-here/keys')).status).to.equal(404);
  });

  it('a revocation reaches a gateway that hears no broadcast within a second (keys-version watch)', async () => {
    const t = await gw.createTenant('keys');
    const spare = (await gw.admin('POST', `/admin/tenants/${t.id}/keys`)).body.apiKey as string;
    expect((await whoAmI(t, t.apiKey, deaf)).status, 'cached on the deaf gateway').to.equal(200);
    const [key] = (await gw.admin('GET', `/admin/tenants/${t.id}/keys`)).body as unknown as Array<{ keyId: string }>;
    const revokedAt = performance.now();
    expect((await gw.admin('DELETE', `/admin/tenants/${t.id}/keys/${key!.keyId}`)).status).to.equal(204);
    await within(1200, async () => (await whoAmI(t, t.apiKey, deaf)).status === 401);
    expect(performance.now() - revokedAt).to.be.below(1200);
    expect((await whoAmI(t, spare, deaf)).status, 'the other key still works there').to.equal(200);
  });

  it('a suspension reaches a gateway that hears no broadcast within a second', async () => {
    const t = await gw.createTenant('keys');
    expect((await whoAmI(t, t.apiKey, deaf)).status).to.equal(200);
    expect((await gw.admin('PATCH', `/admin/tenants/${t.id}`, { status: 'suspended' })).status).to.equal(200);
    await within(1200, async () => (await whoAmI(t, t.apiKey, deaf)).status === 403);
    expect((await gw.admin('PATCH', `/admin/tenants/${t.id}`, { status: 'active' })).status).to.equal(200);
    await within(1200, async () => (await whoAmI(t, t.apiKey, deaf)).status === 200);
  });

  it('a flood of random keys costs a bounded number of catalog lookups and fails no real tenant request', async () => {
    const t = await gw.createTenant('keys');
    expect((await whoAmI(t, t.apiKey)).status).to.equal(200);
    const statuses = new Map<number, number>();
    const real: number[] = [];
    const started = performance.now();
    for (let round = 0; round < 10; round++) {
      const flood = Array.from({ length: 40 }, () => whoAmI(t, randomKey()));
      const mine = Array.from({ length: 5 }, () => whoAmI(t, t.apiKey));
      for (const res of await Promise.all(flood)) statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      real.push(...(await Promise.all(mine)).map((r) => r.status));
    }
    const seconds = (performance.now() - started) / 1000;
    expect(real.every((s) => s === 200), `real tenant answers: ${real.join(',')}`).to.equal(true);
    // each 401 was a catalog lookup; the rest were refused before one (429 with Retry-After)
    const lookups = statuses.get(401) ?? 0;
    const { lookupBurstPerClient, lookupsPerSecondPerClient } = gw.gateway.config.tenants;
    expect(lookups).to.be.at.most(lookupBurstPerClient + Math.ceil(seconds * lookupsPerSecondPerClient) + 1);
    expect(statuses.get(429) ?? 0).to.equal(400 - lookups);
    // the budget refills (lookupsPerSecondPerClient): of a burst sent now, most are refused
    const burst = await Promise.all(Array.from({ length: 10 }, () => whoAmI(t, randomKey())));
    const limited = burst.find((r) => r.status === 429)!;
    expect(burst.filter((r) => r.status === 429).length, burst.map((r) => r.status).join(',')).to.be.at.least(5);
    expect(Number(limited.headers.get('retry-after'))).to.be.at.least(1);
    expect(limited.body.code).to.equal('RATE_LIMITED');
  });

  it('never refuses a client bringing more new, real keys than the unknown-key burst', async () => {
    const { lookupBurstPerClient } = gw.gateway.config.tenants;
    const tenants: TestTenant[] = [];
    for (let i = 0; i <= lookupBurstPerClient + 5; i++) tenants.push(await gw.createTenant(`fresh${i}`));
    // each first request is a catalog lookup (the key is new to this gateway) that finds a key
    const statuses = await Promise.all(tenants.map(async (t) => (await whoAmI(t, t.apiKey, deaf)).status));
    expect(statuses.every((s) => s === 200), statuses.join(',')).to.equal(true);
  });
});

