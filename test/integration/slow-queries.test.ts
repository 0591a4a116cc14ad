import { expect } from 'chai';
import { TestGateway, TestTenant } from '../support/test-cluster.js';

interface SlowQuery {
  at: string;
  tenant: string | null;
  route: string | null;
  shard: string;
  node: string;
  role: string;
  durationMs: number;
  query: string;
  fingerprint: string | null;
  plan: string | null;
  planError?: string;
}

// Issue 21, item 2: recent slow statements with tenant, route and shard, and their plans; no bound value in either.
describe('GET /admin/slow-queries', function () {
  this.timeout(60_000);
  let gw: TestGateway;
  let tenant: TestTenant;
  let productId: string;
  const secret = `secret-name-${Date.now()}`;

  before(async () => {
    // every statement counts as slow; a plan for each statement at once
    gw = await TestGateway.start({ log: { slowQueryMs: 0 }, insights: { slowQueries: { planEveryMs: 0 } } });
    tenant = await gw.createTenant('slowq');
    const created = await tenant.request('POST', '/v1/products', { body: { name: secret, price: 4.25, stock: 7 } });
    expect(created.status).to.equal(201);
    productId = created.body.id as string;
    expect((await tenant.request('GET', `/v1/products/${productId}`, { headers: { 'x-consistency': 'strong' } })).status).to.equal(200);
  });
  after(async () => {
    await gw?.stop();
  });

  const mine = async (): Promise<SlowQuery[]> => {
    const res = await gw.admin('GET', '/admin/slow-queries?limit=1000');
    expect(res.status, res.text).to.equal(200);
    return (res.body as unknown as SlowQuery[]).filter((q) => q.tenant === tenant.id);
  };

  it("keeps the tenant's slow statements with route, shard, node and duration, normalised, with a generic plan", async () => {
    let found: SlowQuery[] = [];
    for (let i = 0; i < 50 && !found.some((q) => q.route === '/v1/products/:id' && q.plan); i++) {
      await new Promise((r) => setTimeout(r, 100));
      found = await mine();
    }
    const read = found.find((q) => q.route === '/v1/products/:id' && q.plan !== null);
    expect(read, JSON.stringify(found, null, 1)).to.not.equal(undefined);
    expect(read).to.deep.include({ shard: tenant.shard, node: 'primary', role: 'primary' });
    expect(read!.query).to.match(/products/i).and.to.include('$1');
    expect(read!.plan).to.match(/Scan/);
    expect(read!.durationMs).to.be.at.least(0);
    expect(Date.parse(read!.at)).to.be.closeTo(Date.now(), 60_000);
    const write = found.find((q) => q.route === '/v1/products' && /INSERT INTO/i.test(q.query));
    expect(write, JSON.stringify(found.map((q) => [q.route, q.query.slice(0, 60)]))).to.not.equal(undefined);
    // newest first
    for (let i = 1; i < found.length; i++) expect(Date.parse(found[i - 1]!.at)).to.be.at.least(Date.parse(found[i]!.at) - 1000);
  });

  it('lets no bound value, literal or tenant id into a statement text or a plan', async () => {
    const found = await mine();
    expect(found.length).to.be.greaterThan(0);
    for (const q of found) {
      for (const value of [secret, productId, tenant.id, '4.25']) {
        expect(q.query, 'statement text').to.not.include(value);
        expect(q.plan ?? '', 'plan').to.not.include(value);
      }
    }
  });

  it('refuses a bad limit naming the field', async () => {
    const res = await gw.admin('GET', '/admin/slow-queries?limit=0');
    expect(res.status).to.equal(400);
    expect(res.body.field).to.equal('limit');
  });
});
