import { expect } from 'chai';
import { TestGateway, TestTenant, sql, testCluster } from '../support/test-cluster.js';

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('routing: ring placement, replicas, lag and read-your-writes', function () {
  this.timeout(60_000);
  let gw: TestGateway;
  before(async () => {
    gw = await TestGateway.start({ routing: { maxReplicaLagMs: 1500, healthIntervalMs: 100 } });
  });
  after(async () => {
    await gw?.stop();
  });

  it('spreads 36 tenants over all three shards and keeps each tenant’s rows on its shard only', async () => {
    const tenants: TestTenant[] = [];
    for (let i = 0; i < 36; i++) tenants.push(await gw.createTenant('spread'));
    expect(new Set(tenants.map((t) => t.shard))).to.have.property('size', 3);

    for (const t of tenants) {
      const res = await t.createUser();
      expect(res.status).to.equal(201);
      expect(res.headers.get('x-shard')).to.equal(t.shard);
    }
    const ids = tenants.map((t) => t.id);
    for (const shard of testCluster().shards) {
      const rows = await sql<{ tenant_id: string }>(shard.admin.primary, 'SELECT DISTINCT tenant_id FROM users WHERE tenant_id = ANY($1)', [ids]);
      const expected = tenants.filter((t) => t.shard === shard.id).map((t) => t.id).sort();
      expect(rows.map((r) => r.tenant_id).sort(), shard.id).to.deep.equal(expected);
    }
  });

  it('serves reads from a replica once it has the row', async () => {
    const t = await gw.createTenant();
    const created = await t.createUser();
    const replica = await eventually('a replica read', async () => {
      const res = await t.request('GET', `/v1/users/${created.body.id}`);
      return res.status === 200 && res.headers.get('x-served-by')?.startsWith('replica:') ? res : undefined;
    });
    expect(replica.body.id).to.equal(created.body.id);
    const replicaUrl = testCluster().shards.find((s) => s.id === t.shard)!.admin.replicas[0]!;
    const port = new URL(replicaUrl).port;
    expect(replica.headers.get('x-served-by')).to.equal(`replica:127.0.0.1:${port}`);
  });

  it('routes strong reads to the primary', async () => {
    const t = await gw.createTenant();
    const res = await t.request('GET', '/v1/users', { headers: { 'x-consistency': 'strong' } });
    expect(res.headers.get('x-served-by')).to.equal('primary');
  });

  it('skips a paused replica past the lag bound, and a consistency token always sees the write', async () => {
    const t = await gw.createTenant();
    const replicaUrl = testCluster().shards.find((s) => s.id === t.shard)!.admin.replicas[0]!;
    // make sure the replica is in rotation before pausing it
    await eventually('replica in rotation', async () => {
      const res = await t.request('GET', '/v1/users');
      return res.headers.get('x-served-by')?.startsWith('replica:') ? true : undefined;
    });
    await sql(replicaUrl, 'SELECT pg_wal_replay_pause()');
    try {
      const created = await t.createUser();
      expect(created.status).to.equal(201);
      const id = created.body.id as string;
      const token = created.headers.get('x-consistency-token')!;

      // within the bound the replica still serves, and it really has not seen the row
      const stale = await t.request('GET', `/v1/users/${id}`);
      if (stale.headers.get('x-served-by')?.startsWith('replica:')) expect(stale.status).to.equal(404);

      // the token forces a node that has replayed the write: the primary
      const fresh = await t.request('GET', `/v1/users/${id}`, { headers: { 'x-consistency-token': token } });
      expect(fresh.status).to.equal(200);
      expect(fresh.headers.get('x-served-by')).to.equal('primary');

      // once the lag passes the bound, plain reads leave the replica too
      const primaryRead = await eventually('reads to leave the lagging replica', async () => {
        const res = await t.request('GET', `/v1/users/${id}`);
        return res.headers.get('x-served-by') === 'primary' ? res : undefined;
      });
      expect(primaryRead.status).to.equal(200);
      const shards = await gw.admin('GET', '/admin/shards');
      const view = (shards.body as unknown as Array<{ id: string; replicas: Array<{ lagMs: number; lagBytes: number }> }>).find((s) => s.id === t.shard)!;
      expect(view.replicas[0]!.lagMs).to.be.greaterThan(1500);
      expect(view.replicas[0]!.lagBytes).to.be.greaterThan(0);
    } finally {
      await sql(replicaUrl, 'SELECT pg_wal_replay_resume()');
    }
    // after resuming, the replica catches up and is used again
    await eventually('replica back in rotation', async () => {
      const res = await t.request('GET', '/v1/users');
      return res.headers.get('x-served-by')?.startsWith('replica:') ? true : undefined;
    });
  });
});
