import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Migration } from '../../shards/migrations/migration.js';
import { shardMigrations } from '../../shards/migrations/shard/index.js';
import { startProcess } from '../support/gateway-process.js';
import { ADMIN_TOKEN, TestGateway, TestTenant, sql, testCluster, type Json } from '../support/test-cluster.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every node of every shard of the test cluster (primaries and replicas), by a privileged URL. */
function nodes(): Array<{ name: string; url: string }> {
  return testCluster().shards.flatMap((s) => [
    { name: `${s.id} primary`, url: s.admin.primary },
    ...s.admin.replicas.map((url, i) => ({ name: `${s.id} replica ${i}`, url })),
  ]);
}

// Online schema changes (issue 17): one DDL statement checked by PostgreSQL's own parser,
// planned (CONCURRENTLY, NOT VALID then VALIDATE, lock_timeout with retries) and rolled out
// shard by shard while traffic goes on.
describe('online schema changes across the fleet', function () {
  this.timeout(180_000);
  // names of this run's own: a cluster reused across runs already has an earlier run's column
  const run = Math.random().toString(36).slice(2, 8);
  const column = `erp_code_${run}`;
  const index = `products_erp_${run}`;
  let gw: TestGateway;
  const tenants: TestTenant[] = [];
  before(async () => {
    gw = await TestGateway.start();
    // a tenant on every shard, so the load touches every primary
    for (let i = 0; i < 30 && new Set(tenants.map((t) => t.shard)).size < testCluster().shards.length; i++) {
      const t = await gw.createTenant('ddl');
      if (!tenants.some((x) => x.shard === t.shard)) tenants.push(t);
    }
  });
  after(async () => {
    await gw?.stop();
  });

  const waitFor = async (id: string, ms = 120_000): Promise<Json> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const res = await gw.admin('GET', `/admin/schema-changes/${id}`);
      expect(res.status, res.text).to.equal(200);
      if (!['pending', 'running'].includes(res.body.state as string) || Date.now() > deadline) return res.body;
      await sleep(250);
    }
  };

  it('refuses unsafe or unknown DDL with a 400 that says why and what to do instead', async () => {
    const cases: Array<[string, RegExp]> = [
      ['ALTER TABLE products ALTER COLUMN name TYPE varchar(20)', /rewrite|new column/i],
      ['VACUUM FULL products', /VACUUM|refused|not/i],
      ['ALTER TABLE products ALTER COLUMN description SET NOT NULL', /CHECK/i],
      ['ALTER TABLE products ADD COLUMN seen_at timestamptz DEFAULT now()', /default|backfill/i],
      ['CREATE INDEX nowhere_idx ON no_such_table (x)', /no table/i],
      ['CREATE INDEX a ON products (name); CREATE INDEX b ON products (price)', /2 statements/i],
    ];
    for (const [ddl, why] of cases) {
      const res = await gw.admin('POST', '/admin/schema-changes', { ddl });
      expect([res.status, res.body.field], ddl).to.deep.equal([400, 'ddl']);
      expect(String(res.body.detail), ddl).to.match(why);
    }
  });

  it('adds a column and builds an index on every shard under load while a long transaction holds a lock on one: no request fails or waits 5 s', async () => {
    // traffic on every shard: writes and reads, timed
    let stop = false;
    const outcomes: Array<{ status: number; ms: number }> = [];
    const load = tenants.map(async (t) => {
      while (!stop) {
        const t0 = performance.now();
        const res = await t.request('POST', '/v1/products', { body: { name: 'under ddl', price: 1, stock: 1 } });
        outcomes.push({ status: res.status, ms: performance.now() - t0 });
        if (res.status === 201) {
          const t1 = performance.now();
          // read-your-writes: a replica may not have replayed the write yet without its token
          const token = res.headers.get('x-consistency-token');
          const read = await t.request('GET', `/v1/products/${String(res.body.id)}`, { headers: token ? { 'x-consistency-token': token } : {} });
          outcomes.push({ status: read.status, ms: performance.now() - t1 });
        }
      }
    });
    // a psql-like session holds ACCESS SHARE on products for 6 s on one shard
    const holder = new pg.Client({ connectionString: testCluster().shards[0]!.admin.primary });
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query('SELECT count(*) FROM products');
    const released = sleep(6000).then(async () => {
      await holder.query('COMMIT');
      await holder.end();
    });
    try {
      const adding = await gw.admin('POST', '/admin/schema-changes', { ddl: `ALTER TABLE products ADD COLUMN ${column} text` });
      expect(adding.status, adding.text).to.equal(202);
      expect(adding.body.jobId).to.equal(adding.body.id);
      const added = await waitFor(adding.body.id as string);
      expect(added.state, JSON.stringify(added)).to.equal('succeeded');
      const waited = (added.shards as Json[]).find((s) => s.id === testCluster().shards[0]!.id)!;
      expect(waited.attempts as number, 'the locked shard retried its lock').to.be.greaterThan(0);

      const building = await gw.admin('POST', '/admin/schema-changes', { ddl: `CREATE INDEX ${index} ON products (tenant_id, ${column})` });
      expect(building.status, building.text).to.equal(202);
      const built = await waitFor(building.body.id as string);
      expect(built.state, JSON.stringify(built)).to.equal('succeeded');
      expect((built.plan as string[])[0]).to.match(/CONCURRENTLY/);
    } finally {
      await released;
      stop = true;
      await Promise.all(load);
    }
    expect(outcomes.filter((o) => o.status >= 400).map((o) => o.status), 'failed requests').to.deep.equal([]);
    expect(Math.max(...outcomes.map((o) => o.ms)), 'slowest request, ms').to.be.below(5000);
    expect(outcomes.length).to.be.greaterThan(20);

    await sleep(500); // the replicas replay
    for (const node of nodes()) {
      const [col] = await sql<{ n: number }>(node.url, "SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'products' AND column_name = $1", [column]);
      expect(col!.n, `${node.name}: the column`).to.equal(1);
      const [idx] = await sql<{ valid: boolean }>(node.url, 'SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = $1', [index]);
      expect(idx?.valid, `${node.name}: the index, valid`).to.equal(true);
    }
    const applied = await sql<{ n: number }>(testCluster().shards[0]!.admin.primary, 'SELECT count(*)::int AS n FROM shardgate_schema_changes');
    expect(applied[0]!.n, 'recorded on the shard').to.be.at.least(2);
  });

  it('drops an invalid index a failed build left and builds it again; a shard that lacks applied changes catches up in order', async () => {
    const shard = testCluster().shards[1]!;
    // a failed concurrent build: the index exists, INVALID, under the planned name
    await sql(shard.admin.primary, `DROP INDEX IF EXISTS ${index}`);
    await sql(shard.admin.primary, `CREATE INDEX ${index} ON products (tenant_id, ${column})`);
    await sql(shard.admin.primary, `UPDATE pg_index SET indisvalid = false WHERE indexrelid = '${index}'::regclass`);
    await sql(shard.admin.primary, 'DELETE FROM shardgate_schema_changes');
    const caughtUp = await gw.gateway.schemaRollout.catchUp({ id: shard.id, primary: shard.primary, admin: { primary: shard.admin.primary, replicas: [] } });
    expect(caughtUp).to.be.at.least(2);
    const [idx] = await sql<{ valid: boolean }>(shard.admin.primary, 'SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = $1', [index]);
    expect(idx?.valid, 'rebuilt, valid').to.equal(true);
    const applied = await sql<{ seq: string }>(shard.admin.primary, 'SELECT seq::text FROM shardgate_schema_changes ORDER BY applied_at, seq');
    expect(applied.map((a) => Number(a.seq))).to.deep.equal([...applied.map((a) => Number(a.seq))].sort((a, b) => a - b));
  });

  it('a move between shards at different schema versions waits until they match, then succeeds', async () => {
    // the change reaches shards in id order: held at the last, it has reached the others
    const last = [...testCluster().shards].sort((x, y) => x.id.localeCompare(y.id)).at(-1)!;
    let t = await gw.createTenant('ddl-move');
    for (let i = 0; i < 20 && t.shard === last.id; i++) t = await gw.createTenant('ddl-move');
    expect((await t.createUser()).status).to.equal(201);
    const release = await holdLock(last.admin.primary);
    let moveJob: string | undefined;
    try {
      const change = await gw.admin('POST', '/admin/schema-changes', { ddl: `ALTER TABLE products ADD COLUMN moving_${run} text` });
      expect(change.status, change.text).to.equal(202);
      await shardWaiting(change.body.id as string, last.id, async (p) => (await gw.admin('GET', p)).body);
      const res = await gw.admin('POST', `/admin/tenants/${t.id}/move`, { to: last.id });
      expect(res.status, res.text).to.equal(202);
      moveJob = String(res.body.jobId);
      await sleep(2500);
      const job = (await gw.admin('GET', `/admin/jobs/${moveJob}`)).body;
      expect(job.state, 'still waiting while the versions differ').to.equal('running');
    } finally {
      await release();
    }
    let job: Json = {};
    for (let i = 0; i < 240; i++) {
      job = (await gw.admin('GET', `/admin/jobs/${moveJob}`)).body;
      if (job.state !== 'running' && job.state !== 'pending') break;
      await sleep(250);
    }
    expect(job.state, JSON.stringify(job)).to.equal('succeeded');
    const [moved] = await sql<{ n: number }>(last.admin.primary, 'SELECT count(*)::int AS n FROM users WHERE tenant_id = $1', [t.id]);
    expect(moved!.n).to.equal(1);
  });

  it('backfills a column in throttled batches of heap blocks, with progress, on every shard', async () => {
    // rows enough on one shard for several batches (32 heap blocks each)
    const bulk = tenants[0]!;
    const bulkShard = testCluster().shards.find((s) => s.id === bulk.shard)!;
    await sql(
      bulkShard.admin.primary,
      `INSERT INTO products (tenant_id, id, name, price, created_at, updated_at)
       SELECT $1, gen_random_uuid(), 'bulk ' || n, 1, now(), now() FROM generate_series(1, 6000) n`,
      [bulk.id],
    );
    const res = await gw.admin('POST', '/admin/schema-changes', { ddl: `UPDATE products SET ${column} = 'erp-' || left(id::text, 8) WHERE ${column} IS NULL` });
    expect(res.status, res.text).to.equal(202);
    const done = await waitFor(res.body.id as string);
    expect(done.state, JSON.stringify(done)).to.equal('succeeded');
    expect((done.plan as string[])[0]).to.match(/ctid >= CAST\(\$1 AS tid\) AND ctid < CAST\(\$2 AS tid\)/);
    for (const shard of testCluster().shards) {
      const [left] = await sql<{ n: number }>(shard.admin.primary, `SELECT count(*)::int AS n FROM products WHERE ${column} IS NULL`);
      expect(left!.n, `${shard.id}: rows not backfilled`).to.equal(0);
      const progress = (done.shards as Json[]).find((s) => s.id === shard.id)!.progress as Json | undefined;
      const backfill = progress?.backfill as Json | undefined;
      // the progress survives the shard's end: how many rows, how many blocks
      expect(backfill, `${shard.id}: ${JSON.stringify(progress)}`).to.not.equal(undefined);
      expect(backfill?.block, `${shard.id}: ${JSON.stringify(progress)}`).to.equal(backfill?.blocks);
      if (shard.id === bulk.shard) {
        expect(backfill?.blocks as number, 'more blocks than one batch').to.be.greaterThan(32);
        expect(backfill?.rows as number).to.be.at.least(6000);
      }
    }
    const [sample] = await sql<{ code: string; id: string }>(bulkShard.admin.primary, `SELECT ${column} AS code, id::text FROM products WHERE tenant_id = $1 LIMIT 1`, [bulk.id]);
    expect(sample!.code).to.equal(`erp-${sample!.id.slice(0, 8)}`);
    await sql(bulkShard.admin.primary, `DELETE FROM products WHERE tenant_id = $1 AND name LIKE 'bulk %'`, [bulk.id]);
    const refused = await gw.admin('POST', '/admin/schema-changes', { ddl: `UPDATE products SET tenant_id = 'other' WHERE ${column} IS NULL` });
    expect(refused.status, refused.text).to.equal(400);
    expect(refused.body.detail).to.match(/another tenant/);
    const everyRow = await gw.admin('POST', '/admin/schema-changes', { ddl: `UPDATE products SET ${column} = 'x'` });
    expect(everyRow.status, everyRow.text).to.equal(400);
    expect(everyRow.body.detail).to.match(/no WHERE/);
  });

  it('builds an index on a partitioned table partition by partition, and the parent index is valid on every shard', async () => {
    const name = `series_points_value_${run}`;
    const res = await gw.admin('POST', '/admin/schema-changes', { ddl: `CREATE INDEX ${name} ON series_points (tenant_id, value)` });
    expect(res.status, res.text).to.equal(202);
    const done = await waitFor(res.body.id as string);
    expect(done.state, JSON.stringify(done)).to.equal('succeeded');
    for (const shard of testCluster().shards) {
      const [parent] = await sql<{ valid: boolean; children: number; partitions: number }>(
        shard.admin.primary,
        `SELECT i.indisvalid AS valid,
                (SELECT count(*)::int FROM pg_inherits WHERE inhparent = i.indexrelid) AS children,
                (SELECT count(*)::int FROM pg_inherits WHERE inhparent = 'series_points'::regclass) AS partitions
           FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = $1`,
        [name],
      );
      expect(parent, `${shard.id}: the parent index`).to.not.equal(undefined);
      expect(parent!.valid, `${shard.id}: valid`).to.equal(true);
      expect(parent!.children, `${shard.id}: one per partition`).to.equal(parent!.partitions);
    }
  });

  it('a shard added afterwards is migrated and replays every applied change in order before it takes tenants', async () => {
    // a new database on shard-1's servers (its replica streams it too) stands in for a new shard
    const base = testCluster().shards[0]!;
    const db = `shardgate_late_${run}`;
    const at = (url: string) => Object.assign(new URL(url), { pathname: `/${db}` }).toString();
    await sql(base.admin.primary, `CREATE DATABASE ${db}`);
    for (const replica of base.admin.replicas) {
      for (let i = 0; i < 40 && !(await sql(at(replica), 'SELECT 1').then(() => true, () => false)); i++) await sleep(250);
    }
    const id = `late-${run}`;
    try {
      const res = await gw.admin('POST', '/admin/shards', {
        id,
        primary: at(base.primary),
        replicas: base.replicas.map(at),
        admin: { primary: at(base.admin.primary), replicas: base.admin.replicas.map(at) },
      });
      expect(res.status, res.text).to.equal(201);
      const changes = await sql<{ id: string }>(testCluster().catalog, "SELECT id::text FROM schema_changes WHERE state = 'succeeded' ORDER BY seq");
      expect(changes.length).to.be.at.least(4);
      const applied = await sql<{ id: string }>(at(base.admin.primary), 'SELECT id::text FROM shardgate_schema_changes ORDER BY seq');
      expect(applied.map((a) => a.id)).to.deep.equal(changes.map((c) => c.id));
      await sleep(500); // the replica replays
      for (const url of [at(base.admin.primary), ...base.admin.replicas.map(at)]) {
        const [late] = await sql<{ col: number; valid: boolean }>(
          url,
          `SELECT (SELECT count(*)::int FROM information_schema.columns WHERE table_name = 'products' AND column_name = $1) AS col,
                  (SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = $2) AS valid`,
          [column, index],
        );
        expect(late, url).to.deep.include({ col: 1, valid: true });
      }
    } finally {
      // retire it (it has no tenant), then drop its database
      const drain = await gw.admin('POST', `/admin/shards/${id}/drain`);
      if (drain.status === 202) {
        for (let i = 0; i < 120; i++) {
          const job = (await gw.admin('GET', `/admin/jobs/${String(drain.body.jobId)}`)).body;
          if (job.state !== 'running' && job.state !== 'pending') break;
          await sleep(250);
        }
      }
      await sql(base.admin.primary, `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      // no API forgets a retired shard; its password is sealed with this test's keyring, which a later gateway (the bench's) lacks
      await sql(testCluster().catalog, 'DELETE FROM schema_change_shards WHERE shard_id = $1', [id]);
      await sql(testCluster().catalog, 'DELETE FROM shards WHERE id = $1', [id]);
    }
  });

  it("rolls the project's migrations out through the same engine; a gateway does not migrate shards as it starts", async () => {
    const col = `migrated_${run}`;
    const name = `9999-test-${run}`;
    const extra: Migration = {
      name,
      async up(db) {
        await db.query(`ALTER TABLE products ADD COLUMN ${col} text`);
      },
    };
    const migrating = await TestGateway.start({}, undefined, { shardMigrations: [...shardMigrations, extra] });
    const first = testCluster().shards[0]!;
    const hasColumn = async (url: string) =>
      (await sql<{ n: number }>(url, "SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'products' AND column_name = $1", [col]))[0]!.n;
    const changeIds: string[] = [];
    try {
      for (const shard of testCluster().shards) expect(await hasColumn(shard.admin.primary), `${shard.id}: not migrated at start`).to.equal(0);
      const release = await holdLock(first.admin.primary);
      try {
        const res = await migrating.admin('POST', '/admin/schema-changes', { migrations: true });
        expect(res.status, res.text).to.equal(202);
        changeIds.push(res.body.id as string);
        // its migration waits for the lock without holding up the traffic on that shard
        await shardWaiting(res.body.id as string, first.id, async (p) => (await migrating.admin('GET', p)).body);
        const t = tenants.find((x) => x.shard === first.id)!;
        const t0 = performance.now();
        expect((await t.request('POST', '/v1/products', { body: { name: 'while migrating', price: 1, stock: 1 } })).status).to.equal(201);
        expect(performance.now() - t0, 'a write while the migration waits, ms').to.be.below(5000);
      } finally {
        await release();
      }
      let change: Json = {};
      for (let i = 0; i < 200; i++) {
        change = (await migrating.admin('GET', `/admin/schema-changes/${changeIds[0]!}`)).body;
        if (change.state !== 'running' && change.state !== 'pending') break;
        await sleep(250);
      }
      expect([change.state, change.kind, change.plan], JSON.stringify(change)).to.deep.equal(['succeeded', 'migrations', [`migration ${name}`]]);
      for (const shard of testCluster().shards) {
        expect(await hasColumn(shard.admin.primary), `${shard.id}: migrated`).to.equal(1);
        const [recorded] = await sql<{ n: number }>(shard.admin.primary, 'SELECT count(*)::int AS n FROM schema_migrations WHERE name = $1', [name]);
        expect(recorded!.n, `${shard.id}: recorded`).to.equal(1);
      }
      // again: nothing pending, a change all the same, done at once
      const again = await migrating.admin('POST', '/admin/schema-changes', { migrations: true });
      expect(again.status, again.text).to.equal(202);
      changeIds.push(again.body.id as string);
      const settled = await waitFor(again.body.id as string);
      expect([settled.state, settled.plan, settled.ddl]).to.deep.equal(['succeeded', [], 'shard migrations: none pending']);
      const both = await migrating.admin('POST', '/admin/schema-changes', { migrations: true, ddl: 'CREATE INDEX x ON products (id)' });
      expect([both.status, both.body.field]).to.deep.equal([400, 'ddl']);
    } finally {
      await migrating.stop();
      // this test's migration exists in no other gateway's code: leave no trace of it
      for (const shard of testCluster().shards) {
        await sql(shard.admin.primary, `ALTER TABLE products DROP COLUMN IF EXISTS ${col}`);
        await sql(shard.admin.primary, 'DELETE FROM schema_migrations WHERE name = $1', [name]);
        await sql(shard.admin.primary, 'DELETE FROM shardgate_schema_changes WHERE id = ANY($1::uuid[])', [changeIds]);
      }
      await sql(testCluster().catalog, 'DELETE FROM schema_changes WHERE id = ANY($1::uuid[])', [changeIds]);
    }
  });

  /** A session holding ACCESS SHARE on products (on the first shard by default) until released. */
  async function holdLock(url = testCluster().shards[0]!.admin.primary): Promise<() => Promise<void>> {
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query('SELECT count(*) FROM products');
    return async () => {
      await holder.query('COMMIT').catch(() => undefined);
      await holder.end();
    };
  }
  const shardWaiting = async (id: string, shard: string, admin: (p: string) => Promise<Json>): Promise<void> => {
    for (let i = 0; i < 100; i++) {
      const c = await admin(`/admin/schema-changes/${id}`);
      if (((c.shards as Json[]).find((s) => s.id === shard)?.attempts as number) > 0) return;
      await sleep(200);
    }
    throw new Error(`the change never waited on the lock on ${shard}`);
  };
  const firstShardWaiting = (id: string, admin: (p: string) => Promise<Json>) => shardWaiting(id, testCluster().shards[0]!.id, admin);

  it('a change whose gateway is SIGKILLed while it waits on a lock is resumed by another gateway and finishes', async () => {
    const col = `resumed_${run}`;
    const release = await holdLock();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sg-ddl-'));
    const proc = await startProcess(dir, { moves: { leaseMs: 2000 } });
    const other = await TestGateway.start({ moves: { leaseMs: 2000 } });
    try {
      const admin = async (p: string, init: RequestInit = {}) =>
        (await (await fetch(`${proc.adminUrl}${p}`, { ...init, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' } })).json()) as Json;
      const submitted = await admin('/admin/schema-changes', { method: 'POST', body: JSON.stringify({ ddl: `ALTER TABLE products ADD COLUMN ${col} text` }) });
      await firstShardWaiting(submitted.id as string, admin);
      proc.child.kill('SIGKILL');
      await proc.exited;
      await release();
      let change: Json = {};
      for (let i = 0; i < 200; i++) {
        change = (await other.admin('GET', `/admin/schema-changes/${String(submitted.id)}`)).body;
        if (change.state !== 'running' && change.state !== 'pending') break;
        await sleep(250);
      }
      expect(change.state, JSON.stringify(change)).to.equal('succeeded');
      for (const s of testCluster().shards) {
        const [c] = await sql<{ n: number }>(s.admin.primary, "SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'products' AND column_name = $1", [col]);
        expect(c!.n, s.id).to.equal(1);
      }
    } finally {
      await release().catch(() => undefined);
      proc.child.kill('SIGKILL');
      await other.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a change waiting on a lock longer than its lease keeps it: no other gateway takes it over, and it succeeds', async () => {
    const col = `kept_${run}`;
    const release = await holdLock();
    // each lock attempt waits 3 s, three leases: the runner renews while its statement waits, or
    // the other gateway (scanning every lease) takes the change over between two attempts
    const runner = await TestGateway.start({ moves: { leaseMs: 1000 }, schemaChanges: { lockTimeoutMs: 3000 } });
    const other = await TestGateway.start({ moves: { leaseMs: 1000 } });
    try {
      const res = await runner.admin('POST', '/admin/schema-changes', { ddl: `ALTER TABLE products ADD COLUMN ${col} text` });
      expect(res.status, res.text).to.equal(202);
      const owners = new Set<string>();
      for (const until = Date.now() + 7000; Date.now() < until; await sleep(100)) {
        const [row] = await sql<{ owner: string | null }>(testCluster().catalog, 'SELECT owner FROM schema_changes WHERE id = $1', [res.body.id]);
        if (row?.owner) owners.add(row.owner);
      }
      expect(owners.size, [...owners].join(', ')).to.equal(1);
      await release();
      expect((await waitFor(res.body.id as string)).state).to.equal('succeeded');
    } finally {
      await release().catch(() => undefined);
      await other.stop();
      await runner.stop();
    }
  });

  it('a cancelled change stops before its next statement, or its next attempt at a lock', async () => {
    const col = `cancelled_${run}`;
    const release = await holdLock();
    try {
      const res = await gw.admin('POST', '/admin/schema-changes', { ddl: `ALTER TABLE products ADD COLUMN ${col} text` });
      expect(res.status, res.text).to.equal(202);
      await firstShardWaiting(res.body.id as string, async (p) => (await gw.admin('GET', p)).body);
      const cancelled = await gw.admin('POST', `/admin/schema-changes/${String(res.body.id)}/cancel`);
      expect([cancelled.status, cancelled.body.state]).to.deep.equal([200, 'cancelled']);
      expect((await gw.admin('POST', `/admin/schema-changes/${String(res.body.id)}/cancel`)).status, 'twice').to.equal(409);
      // the attempt in flight (at most lock_timeout) ends before the lock goes; no new one starts
      await sleep(3000);
    } finally {
      await release();
    }
    await sleep(3000);
    const [c] = await sql<{ n: number }>(testCluster().shards[0]!.admin.primary, "SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'products' AND column_name = $1", [col]);
    expect(c!.n, 'never added on the shard it waited on').to.equal(0);
    // the fleet is free for the next change
    const next = await gw.admin('POST', '/admin/schema-changes', { ddl: `CREATE INDEX IF NOT EXISTS products_after_${run} ON products (tenant_id, created_at)` });
    expect(next.status, next.text).to.equal(202);
    expect((await waitFor(next.body.id as string)).state).to.equal('succeeded');
  });
});
