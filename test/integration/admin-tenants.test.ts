import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { TestGateway, http, ADMIN_TOKEN } from '../support/test-cluster.js';

describe('admin API: tenants', function () {
  let gw: TestGateway;
  before(async () => {
    gw = await TestGateway.start();
  });
  after(async () => {
    await gw?.stop();
  });

  it('creates a tenant and shows its API key once', async () => {
    const id = `acme-${randomUUID()}`;
    const res = await gw.admin('POST', '/admin/tenants', { name: 'Acme', id });
    expect(res.status).to.equal(201);
    expect(res.body).to.have.all.keys('id', 'name', 'shard', 'apiKey', 'keyId');
    expect(res.body).to.include({ id, name: 'Acme' });
    expect(res.body.shard).to.match(/^shard-[123]$/);
    const got = await gw.admin('GET', `/admin/tenants/${id}`);
    expect(got.status).to.equal(200);
    // its placement history: one open span on its shard, from its creation
    const placements = got.body.placements as Array<{ shard: string; from: string; to: string | null }>;
    expect(got.body).to.deep.equal({ id, name: 'Acme', status: 'active', shard: res.body.shard, pinned: false, placements });
    expect(placements).to.have.length(1);
    expect(placements[0]).to.include({ shard: res.body.shard, to: null });
    expect(Date.parse(placements[0]!.from)).to.be.within(Date.now() - 60_000, Date.now());
    expect(got.text).not.to.include(res.body.apiKey as string);
  });

  it('generates an id when none is given', async () => {
    const res = await gw.admin('POST', '/admin/tenants', { name: 'No id' });
    expect(res.status).to.equal(201);
    expect(res.body.id).to.be.a('string').and.not.equal('');
  });

  it('refuses a duplicate id with 409', async () => {
    const id = `dup-${randomUUID()}`;
    expect((await gw.admin('POST', '/admin/tenants', { name: 'a', id })).status).to.equal(201);
    const again = await gw.admin('POST', '/admin/tenants', { name: 'b', id });
    expect(again.status).to.equal(409);
    expect(again.body).to.include({ code: 'CONFLICT', field: 'id' });
  });

  it('validates the body, naming the field', async () => {
    const cases: Array<[unknown, string]> = [
      [{}, 'name'],
      [{ name: 42 }, 'name'],
      [{ name: '' }, 'name'],
      [{ name: 'x', id: 'has space' }, 'id'],
      [{ name: 'x', id: '-leading-dash' }, 'id'],
      [{ name: 'x', extra: true }, 'extra'],
    ];
    for (const [body, field] of cases) {
      const res = await gw.admin('POST', '/admin/tenants', body);
      expect(res.status, JSON.stringify(body)).to.equal(400);
      expect(res.headers.get('content-type')).to.match(/application\/problem\+json/);
      expect(res.body, JSON.stringify(body)).to.include({ status: 400, code: 'VALIDATION_FAILED', field });
    }
  });

  it('answers 404 for unknown tenants', async () => {
    expect((await gw.admin('GET', '/admin/tenants/nobody-here')).status).to.equal(404);
    expect((await gw.admin('PATCH', '/admin/tenants/nobody-here', { status: 'suspended' })).status).to.equal(404);
  });

  it('suspends and reactivates a tenant (403 while suspended)', async () => {
    const tenant = await gw.createTenant();
    expect((await tenant.request('GET', '/v1/users')).status).to.equal(200);
    const suspended = await gw.admin('PATCH', `/admin/tenants/${tenant.id}`, { status: 'suspended' });
    expect(suspended.status).to.equal(200);
    expect(suspended.body.status).to.equal('suspended');
    const denied = await tenant.request('GET', '/v1/users');
    expect(denied.status).to.equal(403);
    expect(denied.body.code).to.equal('TENANT_SUSPENDED');
    expect((await gw.admin('PATCH', `/admin/tenants/${tenant.id}`, { status: 'active' })).status).to.equal(200);
    expect((await tenant.request('GET', '/v1/users')).status).to.equal(200);
  });

  it('rejects a bad status naming the field', async () => {
    const tenant = await gw.createTenant();
    const res = await gw.admin('PATCH', `/admin/tenants/${tenant.id}`, { status: 'deleted' });
    expect(res.status).to.equal(400);
    expect(res.body.field).to.equal('status');
  });

  it('requires the admin token', async () => {
    const none = await http('GET', `${gw.gateway.adminUrl}/admin/tenants/x`);
    expect(none.status).to.equal(401);
    expect(none.body.code).to.equal('UNAUTHENTICATED');
    const wrong = await http('POST', `${gw.gateway.adminUrl}/admin/tenants`, { body: { name: 'x' }, headers: { authorization: `Bearer ${ADMIN_TOKEN}x` } });
    expect(wrong.status).to.equal(401);
  });

  it('lists shards with replica health and the ring', async () => {
    const shards = await gw.admin('GET', '/admin/shards');
    expect(shards.status).to.equal(200);
    const list = shards.body as unknown as Array<Record<string, unknown>>;
    expect(list.map((s) => s.id)).to.deep.equal(['shard-1', 'shard-2', 'shard-3']);
    for (const s of list) {
      expect(s).to.include.keys('id', 'state', 'weight', 'tenants', 'primary', 'replicas');
      expect((s.primary as { healthy: boolean }).healthy).to.equal(true);
      expect((s.replicas as unknown[]).length).to.equal(1);
    }
    const ring = await gw.admin('GET', '/admin/ring');
    expect((ring.body.members as unknown[]).length).to.equal(3);
  });
});
