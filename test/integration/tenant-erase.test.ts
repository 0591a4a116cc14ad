import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startProcess } from '../support/gateway-process.js';
import { ADMIN_TOKEN, TestGateway, TestTenant, sql, testCluster, type Json } from '../support/test-cluster.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Rows of the tenant in every tenant table of every shard (the system catalogs say which tables). */
async function rowsEverywhere(tenantId: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const s of testCluster().shards) {
    const tables = await sql<{ name: string }>(
      s.admin.primary,
      `SELECT c.relname::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
          AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)`,
    );
    for (const { name } of tables) {
      const [row] = await sql<{ n: number }>(s.admin.primary, `SELECT count(*)::int AS n FROM "${name}" WHERE tenant_id = $1`, [tenantId]);
      if (row!.n > 0) out[`${s.id}.${name}`] = row!.n;
    }
  }
  return out;
}

// DELETE /admin/tenants/:id (issue 16, item 5): a saga in the coordinator's log over the
// catalog, every shard (batched deletes), Redis and the keys; resumable after a crash.
describe('tenant erase', function () {
  this.timeout(120_000);
  const TX = { recoveryIntervalMs: 300, leaseMs: 2000, requestWaitMs: 1500 };
  let gw: TestGateway;
  before(async () => {
    gw = await TestGateway.start({ transactions: TX });
  });
  after(async () => {
    await gw?.stop();
  });

  /** A tenant with a bit of everything: users, products, an order, comments, series points, a transfer, the audit trail. */
  async function populated(products = 20): Promise<TestTenant> {
    const t = await gw.createTenant('erase');
    const user = await t.createUser();
    expect(user.status, user.text).to.equal(201);
    const batch = await t.request('POST', '/v1/products/batch', { body: { items: Array.from({ length: products }, (_, i) => ({ name: `p${i}`, price: 1, stock: 50 })) } });
    expect(batch.status, batch.text).to.be.oneOf([200, 201]);
    const ids = ((batch.body.items as Json[]) ?? []).map((p) => p.id as string);
    const order = await t.request('POST', '/v1/orders', { body: { customerId: user.body.id, items: [{ productId: ids[0], quantity: 1 }] } });
    expect(order.status, order.text).to.equal(201);
    expect((await t.request('POST', `/v1/products/${ids[1]}/comments`, { body: { body: 'hello' } })).status).to.equal(201);
    const now = Date.now();
    expect((await t.request('POST', '/v1/series', { body: { points: [{ series: 'erase.me', ts: now - 60_000, value: 1 }] } })).status).to.equal(200);
    return t;
  }

  async function waitForJob(jobId: string, ms = 60_000): Promise<Json> {
    const deadline = Date.now() + ms;
    for (;;) {
      const res = await gw.admin('GET', `/admin/jobs/${jobId}`);
      expect(res.status, res.text).to.equal(200);
      if (res.body.state !== 'running' || Date.now() > deadline) return res.body;
      await sleep(200);
    }
  }

  it('erases a tenant everywhere: 202 with a job, then 401 for its key, status erased, no row on any shard, others untouched', async () => {
    const t = await populated();
    const other = await populated(3);
    const othersBefore = await rowsEverywhere(other.id);
    expect(Object.keys(await rowsEverywhere(t.id)).length, 'rows to erase').to.be.greaterThan(4);

    const asked = Date.now();
    const res = await gw.admin('DELETE', `/admin/tenants/${t.id}`);
    expect(res.status, res.text).to.equal(202);
    const job = await waitForJob(res.body.jobId as string);
    expect(job, JSON.stringify(job)).to.include({ kind: 'erase', tenant: t.id, state: 'succeeded' });
    expect((job.progress as Json).rowsDeleted as number).to.be.greaterThan(20);

    expect((await t.request('GET', '/v1/products')).status, 'its key').to.equal(401);
    const erased = (await gw.admin('GET', `/admin/tenants/${t.id}`)).body;
    expect(erased.status).to.equal('erased');
    // it lived on its shard until the erase, and nowhere since
    const placements = erased.placements as Array<{ shard: string; to: string | null }>;
    expect(placements.map((p) => p.shard)).to.deep.equal([t.shard]);
    expect(Date.parse(placements[0]!.to ?? '')).to.be.within(asked - 10, Date.now());
    expect(await rowsEverywhere(t.id)).to.deep.equal({});
    expect(await rowsEverywhere(other.id), 'another tenant').to.deep.equal(othersBefore);

    const again = await gw.admin('DELETE', `/admin/tenants/${t.id}`);
    expect([again.status, again.body.jobId], 'asking again: the same erase').to.deep.equal([202, res.body.jobId]);
    const patch = await gw.admin('PATCH', `/admin/tenants/${t.id}`, { status: 'active' });
    expect([patch.status, patch.body.field]).to.deep.equal([409, 'status']);
    expect((await gw.admin('DELETE', '/admin/tenants/nobody-at-all')).status).to.equal(404);
  });

  it('an erase whose gateway is SIGKILLed mid-way is resumed by another gateway and finishes', async () => {
    const t = await populated(600);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sg-erase-'));
    const proc = await startProcess(dir, { transactions: TX });
    let jobId: string;
    try {
      const res = await fetch(`${proc.adminUrl}/admin/tenants/${t.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      expect(res.status).to.equal(202);
      jobId = ((await res.json()) as { jobId: string }).jobId;
      proc.child.kill('SIGKILL');
      await proc.exited;
    } finally {
      proc.child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
    const job = await waitForJob(jobId);
    expect(job.state, JSON.stringify(job)).to.equal('succeeded');
    expect(await rowsEverywhere(t.id)).to.deep.equal({});
    expect((await t.request('GET', '/v1/users')).status).to.equal(401);
  });
});
