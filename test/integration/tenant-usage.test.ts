import { expect } from 'chai';
import { TestGateway, TestTenant, http, sql, testCluster } from '../support/test-cluster.js';
import { waitForJob } from '../support/moves.js';
import { RedisServer } from '../support/redis-server.js';

interface TopRow {
  tenant: string;
  shard: string;
  requests: number;
  dbTimeMs: number;
  rows: number;
  errors: number;
}

// one-second buckets and quick flushes: a test sees the fleet's counts within moments
const insights = (hot: Record<string, unknown> = {}, usage: Record<string, unknown> = {}) => ({
  insights: { usage: { bucketMs: 1000, flushMs: 200, retentionMs: 120_000, ...usage }, hotTenants: { sustainBuckets: 2, share: 0.5, minShardDbMs: 1, cooldownMs: 600_000, ...hot } },
});

// Issue 21, item 1: per-tenant accounting on every pod, shared through Redis.
describe('tenant usage: two pods, one busy and one quiet tenant', function () {
  this.timeout(60_000);
  let a: TestGateway;
  let b: TestGateway;
  let busy: TestTenant;
  let quiet: TestTenant;
  let productId: string;
  const sent = { busy: 0, quiet: 0 };

  before(async () => {
    // flushes far apart: what the other pod served is in an answer only because the answering pod asked it to flush
    a = await TestGateway.start(insights({}, { flushMs: 60_000 }));
    b = await TestGateway.start(insights({}, { flushMs: 60_000 }));
    busy = await a.createTenant('usage-busy');
    quiet = await a.createTenant('usage-quiet');
    const created = await busy.request('POST', '/v1/products', { body: { name: 'hot item', price: 3, stock: 9 } });
    expect(created.status).to.equal(201);
    productId = created.body.id as string;
    sent.busy++;
    const onB = b.tenantFor(busy);
    for (let i = 0; i < 15; i++) {
      expect((await busy.request('GET', `/v1/products/${productId}`, { headers: { 'x-consistency': 'strong' } })).status).to.equal(200);
      expect((await onB.request('GET', '/v1/products?pageSize=5', { headers: { 'x-consistency': 'strong' } })).status).to.equal(200);
      sent.busy += 2;
    }
    // an error counts too (a 404 is not one: only what the gateway failed to serve)
    expect((await quiet.request('GET', '/v1/users?pageSize=2')).status).to.equal(200);
    sent.quiet++;
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it('names the busy tenant first from either pod, with the requests both pods served, its rows and its database time', async () => {
    for (const gw of [a, b]) {
      const res = await gw.admin('GET', '/admin/usage/top?by=requests&window=1m&limit=50');
      expect(res.status, res.text).to.equal(200);
      expect(res.headers.get('shardgate-usage-partial')).to.equal(null);
      const rows = res.body as unknown as TopRow[];
      const mine = rows.filter((r) => r.tenant === busy.id || r.tenant === quiet.id);
      expect(mine.map((r) => r.tenant)).to.deep.equal([busy.id, quiet.id]);
      const hot = mine[0]!;
      expect(hot).to.deep.include({ shard: busy.shard, requests: sent.busy, errors: 0 });
      expect(hot.rows, 'rows returned or written').to.be.at.least(sent.busy - 1);
      expect(hot.dbTimeMs).to.be.greaterThan(0);
      expect(mine[1]).to.deep.include({ shard: quiet.shard, requests: sent.quiet });
      for (let i = 1; i < rows.length; i++) expect(rows[i - 1]!.requests).to.be.at.least(rows[i]!.requests);
    }
    const byDb = (await a.admin('GET', '/admin/usage/top?window=1m&limit=1000')).body as unknown as TopRow[];
    for (let i = 1; i < byDb.length; i++) expect(byDb[i - 1]!.dbTimeMs).to.be.at.least(byDb[i]!.dbTimeMs);
    expect(((await a.admin('GET', '/admin/usage/top?window=1m&limit=1')).body as unknown as TopRow[]).length).to.be.at.most(1);
  });

  it("answers one tenant's usage over time in steps, from every pod", async () => {
    const res = await b.admin('GET', `/admin/tenants/${busy.id}/usage?window=1m&step=5s`);
    expect(res.status, res.text).to.equal(200);
    const body = res.body as { tenant: string; stepMs: number; totals: TopRow; points: Array<{ at: string } & TopRow> };
    expect(body.tenant).to.equal(busy.id);
    expect(body.stepMs).to.equal(5000);
    expect(body.points.length).to.be.within(12, 13);
    expect(body.points.reduce((n, p) => n + p.requests, 0)).to.equal(sent.busy);
    expect(body.totals.requests).to.equal(sent.busy);
    for (let i = 1; i < body.points.length; i++) expect(Date.parse(body.points[i]!.at) - Date.parse(body.points[i - 1]!.at)).to.equal(5000);
  });

  it('refuses a bad window, step or metric naming the field, and an unknown tenant', async () => {
    const bad = async (path: string, field: string) => {
      const res = await a.admin('GET', path);
      expect(res.status, `${path}: ${res.text}`).to.equal(400);
      expect(res.headers.get('content-type')).to.match(/problem\+json/);
      expect(res.body.field, path).to.equal(field);
    };
    await bad('/admin/usage/top?by=cpu', 'by');
    await bad('/admin/usage/top?window=forever', 'window');
    await bad('/admin/usage/top?window=10d', 'window');
    await bad('/admin/usage/top?limit=0', 'limit');
    await bad('/admin/usage/top?window=1m&window=2m', 'window');
    await bad(`/admin/tenants/${busy.id}/usage?step=1500ms`, 'step');
    await bad(`/admin/tenants/${busy.id}/usage?window=1m&step=0s`, 'step');
    await bad(`/admin/tenants/${busy.id}/usage?colour=red`, 'colour');
    expect((await a.admin('GET', '/admin/tenants/no-such-tenant/usage?window=1m')).status).to.equal(404);
    expect((await http('GET', `${a.gateway.adminUrl}/admin/usage/top`)).status).to.equal(401);
  });

  it("carries this pod's busiest tenants in Prometheus, and only a bounded few", async () => {
    const text = (await http('GET', `${a.gateway.adminUrl}/metrics`)).text;
    expect(text).to.match(new RegExp(`shardgate_tenant_top_requests\\{tenant="${busy.id}",shard="${busy.shard}"\\} \\d+`));
    expect(text).to.match(new RegExp(`shardgate_tenant_top_db_seconds\\{tenant="${busy.id}"`));
    const series = text.split('\n').filter((l) => l.startsWith('shardgate_tenant_top_requests{'));
    expect(series.length).to.be.within(1, 10);
  });
});

// Issue 21, item 3: a tenant above half its shard's database time, sustained, is found and can be moved off it.
describe('hot tenants: found, then isolated (dry run first)', function () {
  this.timeout(120_000);
  let gw: TestGateway;
  let hot: TestTenant;

  before(async () => {
    gw = await TestGateway.start(insights());
    hot = await gw.createTenant('usage-hot');
    const created = await hot.request('POST', '/v1/products', { body: { name: 'busy', price: 1, stock: 1 } });
    expect(created.status).to.equal(201);
    // traffic through three whole one-second buckets
    const until = Date.now() + 3200;
    while (Date.now() < until) {
      const res = await hot.request('GET', '/v1/products?pageSize=20', { headers: { 'x-consistency': 'strong' } });
      expect(res.status).to.equal(200);
    }
  });
  after(async () => {
    await gw?.stop();
  });

  it('lists the hot tenant as a finding with its share of the shard', async () => {
    const res = await gw.admin('GET', '/admin/findings');
    expect(res.status, res.text).to.equal(200);
    const found = (res.body.findings as Array<Record<string, unknown>>).find((f) => f.tenant === hot.id);
    expect(found, res.text).to.not.equal(undefined);
    expect(found).to.deep.include({ kind: 'hot_tenant', shard: hot.shard, buckets: 2 });
    expect(found!.share as number).to.be.within(0.5, 1);
  });

  it('shows the move a dry run would make, makes it when asked, and refuses again within the cooldown', async () => {
    const dry = await gw.admin('POST', `/admin/tenants/${hot.id}/isolate`, {});
    expect(dry.status, dry.text).to.equal(200);
    expect(dry.body).to.deep.include({ tenant: hot.id, from: hot.shard, reason: 'least_loaded', dryRun: true });
    expect(dry.body.to).to.not.equal(hot.shard);
    const loads = dry.body.loads as Array<{ shard: string; dbTimeMs: number }>;
    expect(loads[0]!.shard).to.equal(dry.body.to);
    expect(loads.map((l) => l.shard)).to.not.include(hot.shard);
    expect((dry.body.finding as { tenant: string }).tenant).to.equal(hot.id);

    const go = await gw.admin('POST', `/admin/tenants/${hot.id}/isolate`, { dryRun: false, to: dry.body.to });
    expect(go.status, go.text).to.equal(202);
    expect(go.headers.get('location')).to.equal(`/admin/jobs/${go.body.jobId as string}`);
    const job = await waitForJob(gw, go.body.jobId as string);
    expect(job.state, JSON.stringify(job)).to.equal('succeeded');
    const placed = await gw.admin('GET', `/admin/tenants/${hot.id}`);
    expect(placed.body.shard).to.equal(dry.body.to);

    const again = await gw.admin('POST', `/admin/tenants/${hot.id}/isolate`, { dryRun: false, to: hot.shard });
    expect(again.status, again.text).to.equal(409);
  });

  it('refuses an unknown shard, a bad body and an unknown tenant', async () => {
    const unknownShard = await gw.admin('POST', `/admin/tenants/${hot.id}/isolate`, { to: 'shard-none' });
    expect(unknownShard.status).to.equal(400);
    expect(unknownShard.body.field).to.equal('to');
    const badBody = await gw.admin('POST', `/admin/tenants/${hot.id}/isolate`, { dryRun: 'yes' });
    expect(badBody.status).to.equal(400);
    expect(badBody.body.field).to.equal('dryRun');
    expect((await gw.admin('POST', '/admin/tenants/no-such-tenant/isolate', {})).status).to.equal(404);
  });
});

describe('tenant usage without Redis: this pod answers alone, and says so', function () {
  this.timeout(60_000);
  let server: RedisServer;
  let gw: TestGateway;

  before(async () => {
    server = await RedisServer.start();
    gw = await TestGateway.start({ redis: server.url, ...insights() });
  });
  after(async () => {
    await gw?.stop();
    await server?.kill();
  });

  it('counts requests served while Redis is gone and answers them from this pod with Shardgate-Usage-Partial', async () => {
    const tenant = await gw.createTenant('usage-noredis');
    await server.kill();
    for (let i = 0; i < 4; i++) expect((await tenant.request('GET', '/v1/users?pageSize=1')).status).to.equal(200);
    const res = await gw.admin('GET', '/admin/usage/top?by=requests&window=1m&limit=1000');
    expect(res.status, res.text).to.equal(200);
    expect(res.headers.get('shardgate-usage-partial')).to.match(/this pod only/);
    const row = (res.body as unknown as TopRow[]).find((r) => r.tenant === tenant.id);
    expect(row).to.deep.include({ requests: 4, shard: tenant.shard });
    const series = await gw.admin('GET', `/admin/tenants/${tenant.id}/usage?window=1m&step=1m`);
    expect(series.status, series.text).to.equal(200);
    expect(series.headers.get('shardgate-usage-partial')).to.match(/this pod only/);
    expect((series.body.totals as TopRow).requests).to.equal(4);
  });
});

describe('hot tenants in automatic mode: one pod of two moves the tenant, once', function () {
  this.timeout(120_000);
  let a: TestGateway;
  let b: TestGateway;

  before(async () => {
    a = await TestGateway.start(insights({ autoIsolate: true }));
    b = await TestGateway.start(insights({ autoIsolate: true }));
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it('moves a tenant that stays hot without an operator, and the other pod finds the cooldown taken', async () => {
    const hot = await a.createTenant('usage-auto');
    const onB = b.tenantFor(hot);
    const until = Date.now() + 3200;
    while (Date.now() < until) {
      expect((await hot.request('GET', '/v1/products?pageSize=20', { headers: { 'x-consistency': 'strong' } })).status).to.equal(200);
      expect((await onB.request('GET', '/v1/products?pageSize=20', { headers: { 'x-consistency': 'strong' } })).status).to.equal(200);
    }
    let shard = hot.shard;
    for (let i = 0; i < 120 && shard === hot.shard; i++) {
      await new Promise((r) => setTimeout(r, 250));
      shard = (await a.admin('GET', `/admin/tenants/${hot.id}`)).body.shard as string;
    }
    expect(shard, 'moved off its shard').to.not.equal(hot.shard);
    const moves = await sql<{ n: number }>(testCluster().catalog, 'SELECT count(*)::int AS n FROM tenant_moves WHERE tenant_id = $1', [hot.id]);
    expect(moves[0]!.n, 'one move, by one pod').to.equal(1);
    for (const gw of [a, b]) expect((await gw.admin('POST', `/admin/tenants/${hot.id}/isolate`, { dryRun: false })).status).to.equal(409);
  });
});
