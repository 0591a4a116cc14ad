import { expect } from 'chai';
import { TestGateway, TestTenant, sql, testCluster } from '../support/test-cluster.js';

interface Statement {
  query: string;
  calls: number;
  totalMs: number;
  meanMs: number;
  rows: number;
  shards: Array<{ id: string; calls: number; totalMs: number }>;
}

// Issue 21, item 2: what the fleet's statements cost, from pg_stat_statements on every shard, merged.
describe('GET /admin/query-stats: statements merged across shards', function () {
  this.timeout(60_000);
  let gw: TestGateway;
  const tenants: TestTenant[] = [];

  before(async () => {
    gw = await TestGateway.start();
    // tenants until two shards hold one: the same statement then runs on both
    for (let i = 0; i < 12 && new Set(tenants.map((t) => t.shard)).size < 2; i++) tenants.push(await gw.createTenant('qstats'));
    expect(testCluster().shards.length).to.be.greaterThan(1);
    expect(new Set(tenants.map((t) => t.shard)).size, 'tenants on two shards').to.equal(2);
    for (const t of tenants) {
      const created = await t.request('POST', '/v1/products', { body: { name: 'counted', price: 2, stock: 1 } });
      expect(created.status).to.equal(201);
      for (let i = 0; i < 5; i++) expect((await t.request('GET', `/v1/products/${created.body.id as string}`, { headers: { 'x-consistency': 'strong' } })).status).to.equal(200);
    }
  });
  after(async () => {
    await gw?.stop();
  });

  it('answers the costliest statements with calls, times and rows summed over the shards that ran them, and no value or tenant id in any text', async () => {
    const res = await gw.admin('GET', '/admin/query-stats?top=500');
    expect(res.status, res.text).to.equal(200);
    const statements = res.body as unknown as Statement[];
    expect(statements.length).to.be.greaterThan(0);
    const read = statements.find((s) => /FROM "?products"?/.test(s.query) && /deleted_at IS NULL/.test(s.query) && s.query.includes('$2'));
    expect(read, statements.map((s) => s.query.slice(0, 80)).join('\n')).to.not.equal(undefined);
    const shards = new Set(tenants.map((t) => t.shard));
    expect(new Set(read!.shards.map((s) => s.id))).to.include.all.keys(...shards);
    expect(read!.calls).to.equal(read!.shards.reduce((n, s) => n + s.calls, 0));
    expect(read!.calls).to.be.at.least(5 * tenants.length);
    expect(read!.meanMs).to.be.closeTo(read!.totalMs / read!.calls, 0.01);
    for (const s of statements) {
      expect(s).to.have.all.keys('query', 'calls', 'totalMs', 'meanMs', 'rows', 'shards');
      for (const t of tenants) expect(s.query, 'a tenant id in a statement text').to.not.include(t.id);
    }
    // ordered by total time, costliest first
    for (let i = 1; i < statements.length; i++) expect(statements[i - 1]!.totalMs).to.be.at.least(statements[i]!.totalMs);
  });

  it('sorts by calls or mean time, keeps the top N, and narrows to one shard', async () => {
    const byCalls = (await gw.admin('GET', '/admin/query-stats?sort=calls&top=5')).body as unknown as Statement[];
    expect(byCalls.length).to.be.at.most(5);
    for (let i = 1; i < byCalls.length; i++) expect(byCalls[i - 1]!.calls).to.be.at.least(byCalls[i]!.calls);
    const byMean = (await gw.admin('GET', '/admin/query-stats?sort=meanTime&top=3')).body as unknown as Statement[];
    for (let i = 1; i < byMean.length; i++) expect(byMean[i - 1]!.meanMs).to.be.at.least(byMean[i]!.meanMs);
    const one = tenants[0]!.shard;
    const narrowed = (await gw.admin('GET', `/admin/query-stats?shard=${one}&top=50`)).body as unknown as Statement[];
    expect(narrowed.length).to.be.greaterThan(0);
    for (const s of narrowed) expect(s.shards.map((x) => x.id)).to.deep.equal([one]);
  });

  it('merges one text the server counts twice on a shard (its table made anew: another OID, another query id)', async () => {
    const shard = testCluster().shards.find((s) => s.id === tenants[0]!.shard)!;
    const node = gw.gateway.registry.get(shard.id).primary;
    const table = `qstats_probe_${Date.now()}`;
    const make = `CREATE TABLE ${table} (a int); GRANT SELECT ON ${table} TO PUBLIC`;
    try {
      await sql(shard.admin.primary, make);
      await node.query(`SELECT count(*) FROM ${table}`, []);
      await sql(shard.admin.primary, `DROP TABLE ${table}; ${make}`);
      await node.query(`SELECT count(*) FROM ${table}`, []);
      await node.query(`SELECT count(*) FROM ${table}`, []);
      const stats = (await gw.admin('GET', `/admin/query-stats?shard=${shard.id}&top=500&sort=calls`)).body as unknown as Statement[];
      const probe = stats.filter((s) => s.query === `SELECT count(*) FROM ${table}`);
      expect(probe, stats.map((s) => s.query.slice(0, 60)).join('\n')).to.have.length(1);
      expect(probe[0]!.calls).to.equal(3);
      expect(probe[0]!.shards.map((x) => ({ id: x.id, calls: x.calls }))).to.deep.equal([{ id: shard.id, calls: 3 }]);
      expect(probe[0]!.shards[0]!.totalMs).to.be.closeTo(probe[0]!.totalMs, 0.001);
    } finally {
      await sql(shard.admin.primary, `DROP TABLE IF EXISTS ${table}`);
    }
  });

  it('refuses bad parameters with a 400 naming them, an unknown shard with a 404, and callers without the admin token', async () => {
    for (const [query, field] of [['top=0', 'top'], ['top=501', 'top'], ['top=ten', 'top'], ['sort=slowest', 'sort'], ['top=1&top=2', 'top'], ['extra=1', 'extra']] as const) {
      const res = await gw.admin('GET', `/admin/query-stats?${query}`);
      expect(res.status, query).to.equal(400);
      expect(res.headers.get('content-type')).to.match(/^application\/problem\+json/);
      expect(res.body.field, query).to.equal(field);
    }
    const unknown = await gw.admin('GET', '/admin/query-stats?shard=shard-nowhere');
    expect(unknown.status).to.equal(404);
    const anonymous = await gw.admin('GET', '/admin/query-stats', undefined, { authorization: 'Bearer wrong-token-wrong-token-wrong-token-00' });
    expect(anonymous.status).to.equal(401);
  });
});
