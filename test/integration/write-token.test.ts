import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { SpanKind } from '@opentelemetry/api';
import { TestGateway, TestTenant, sql, testCluster, type ClusterShard } from '../support/test-cluster.js';
import { spanExporter } from '../support/telemetry.js';
import type { ShardNode } from '../../src/cluster/shard-node.js';

const ns = (t: ReadableSpan['startTime']) => BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]);
const statementOf = (s: ReadableSpan) => String(s.attributes['db.query.text'] ?? s.attributes['db.statement'] ?? '');

// Issue 20, item 4: a raw write's consistency token comes with the write, not a round trip after it.
describe('a write and its consistency token in one round trip', function () {
  this.timeout(60_000);
  let gw: TestGateway;
  let tenant: TestTenant;
  let shard: ClusterShard;
  let node: ShardNode;

  before(async () => {
    gw = await TestGateway.start();
    tenant = await gw.createTenant('write-token');
    shard = testCluster().shards.find((s) => s.id === tenant.shard)!;
    node = gw.gateway.registry.get(shard.id).primary;
  });
  after(async () => {
    await gw?.stop();
  });

  it("reads the WAL position pipelined behind the create's commit, and the token it makes finds the write on a replica", async () => {
    const traceId = randomBytes(16).toString('hex');
    const traceparent = `00-${traceId}-${randomBytes(8).toString('hex')}-01`;
    const created = await tenant.request('POST', '/v1/products', { body: { name: 'pipelined', price: 3, stock: 1 }, headers: { traceparent } });
    expect(created.status).to.equal(201);
    const token = created.headers.get('x-consistency-token');
    expect(token).to.be.a('string');
    await new Promise((r) => setTimeout(r, 50));
    const spans = spanExporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId && s.kind === SpanKind.CLIENT);
    const insert = spans.find((s) => statementOf(s).includes('INSERT INTO products'));
    const position = spans.find((s) => statementOf(s).includes('pg_current_wal_lsn'));
    expect(insert, spans.map(statementOf).join('\n')).to.not.equal(undefined);
    expect(position, spans.map(statementOf).join('\n')).to.not.equal(undefined);
    // sent before the create was answered: one round trip, not a second one after it
    expect(ns(position!.startTime) < ns(insert!.endTime), 'the position query starts before the create ends').to.equal(true);
    // and it ran after the commit: a read with the token sees the row (a replica waits for it, or the primary answers)
    for (let i = 0; i < 20; i++) {
      const read = await tenant.request('GET', `/v1/products/${created.body.id as string}`, { headers: { 'x-consistency-token': token! } });
      expect(read.status, read.text).to.equal(200);
    }
  });

  it("reads the WAL position in the COMMIT's round trip for a transaction's write (PATCH), and its token finds the change", async () => {
    const created = await tenant.request('POST', '/v1/products', { body: { name: 'to patch', price: 3, stock: 1 } });
    expect(created.status).to.equal(201);
    const id = created.body.id as string;
    for (let i = 1; i <= 5; i++) {
      const traceId = randomBytes(16).toString('hex');
      const traceparent = `00-${traceId}-${randomBytes(8).toString('hex')}-01`;
      const patched = await tenant.request('PATCH', `/v1/products/${id}`, { body: { stock: 10 + i }, headers: { traceparent } });
      expect(patched.status, patched.text).to.equal(200);
      const token = patched.headers.get('x-consistency-token')!;
      expect(token).to.be.a('string');
      await new Promise((r) => setTimeout(r, 50));
      const statements = spanExporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId && s.kind === SpanKind.CLIENT).map(statementOf);
      // the commit brings the position; no statement of its own asks for it afterwards
      expect(statements.filter((q) => /^COMMIT; SELECT pg_current_wal_lsn\(\)/.test(q)), statements.join('\n')).to.have.length(1);
      expect(statements.filter((q) => /^SELECT pg_current_wal_lsn/.test(q)), statements.join('\n')).to.have.length(0);
      const read = await tenant.request('GET', `/v1/products/${id}`, { headers: { 'x-consistency-token': token } });
      expect(read.body.stock).to.equal(10 + i);
    }
  });

  it('returns the rows and a position past the commit; a failed statement fails alone and the pool keeps serving', async () => {
    const before = (await node.currentWalLsn())!;
    const name = `pos-${Date.now()}`;
    const { rows, lsn } = await node.queryCommitted<{ name: string }>(
      "INSERT INTO users (tenant_id, id, username, email, password_hash, version, created_at, updated_at) VALUES ($1, gen_random_uuid(), $2, $3, 'x', 0, now(), now()) RETURNING username AS name",
      [tenant.id, name, `${name}@example.com`],
      tenant.id,
    );
    expect(rows).to.deep.equal([{ name }]);
    const after = (await node.currentWalLsn())!;
    expect(lsn! > before, 'past the position before the insert').to.equal(true);
    expect(lsn! <= after, 'not past the position read after it').to.equal(true);
    // a duplicate: the statement's error, as Sequelize reports it; the position batch behind it ran on and is dropped
    for (let i = 0; i < 3; i++) {
      const failed = await node
        .queryCommitted("INSERT INTO users (tenant_id, id, username, email, password_hash, version, created_at, updated_at) VALUES ($1, gen_random_uuid(), $2, $3, 'x', 0, now(), now())", [tenant.id, name, `${name}@example.com`], tenant.id)
        .then(() => undefined, (e: Error) => e);
      expect(failed?.name).to.equal('SequelizeUniqueConstraintError');
    }
    // every pooled connection left pipeline mode and answers one query at a time again
    const counts = await Promise.all(Array.from({ length: 24 }, () => node.query<{ n: number }>('SELECT count(*)::int AS n FROM users WHERE username = $1', [name], tenant.id)));
    for (const c of counts) expect(c).to.deep.equal([{ n: 1 }]);
    const again = await Promise.all(Array.from({ length: 12 }, (_, i) => node.queryCommitted<{ n: number }>('SELECT $1::int AS n', [i], tenant.id)));
    expect(again.map((r) => r.rows[0]!.n)).to.deep.equal(Array.from({ length: 12 }, (_, i) => i));
    for (const r of again) expect(r.lsn).to.not.equal(undefined);
  });

  it('runs a statement whose table changed shape under its prepared plan, and then asks for the position apart', async () => {
    const table = `position_probe_${Date.now()}`;
    await sql(shard.admin.primary, `CREATE TABLE ${table} (tenant_id text, a int); GRANT SELECT, INSERT ON ${table} TO shardgate_request`);
    try {
      const insert = `INSERT INTO ${table} VALUES ($1, 1) RETURNING *`;
      await Promise.all(Array.from({ length: 8 }, () => node.queryCommitted(insert, [tenant.id], tenant.id)));
      await sql(shard.admin.primary, `ALTER TABLE ${table} ADD COLUMN b int DEFAULT 2`);
      const after = await Promise.all(Array.from({ length: 8 }, () => node.queryCommitted<{ b: number }>(insert, [tenant.id], tenant.id)));
      for (const r of after) expect(r.rows).to.deep.equal([{ tenant_id: tenant.id, a: 1, b: 2 }]);
    } finally {
      await sql(shard.admin.primary, `DROP TABLE ${table}`);
    }
  });
});
