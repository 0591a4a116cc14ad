import { expect } from 'chai';
import pg from 'pg';
import { TestGateway, TestTenant, sql, testCluster, type ClusterShard } from '../support/test-cluster.js';
import { SCOPE_SQL, STATEMENT_CACHE_SIZE, TenantScopedQuery, type Scope } from '../../src/cluster/tenant-scoped-query.js';

/** One statement under a tenant scope on `client`, as ShardNode.query sends it. */
function scoped(client: pg.Client, text: string, values: unknown[], scope: Scope, prepare = true): Promise<pg.QueryResult> {
  return new Promise((resolve, reject) => {
    void client.query(new TenantScopedQuery({ text, values, callback: (err, result) => (err ? reject(err) : resolve(result)) }, scope, prepare));
  });
}

/** Statements on one connection of `url`, in one transaction; the last one's rows, or its error. */
async function inTransaction(url: string, statements: Array<[string, unknown[]?]>): Promise<Array<Record<string, unknown>>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('BEGIN');
    let rows: Array<Record<string, unknown>> = [];
    for (const [text, values] of statements) rows = (await client.query(text, values ?? [])).rows;
    await client.query('COMMIT');
    return rows;
  } finally {
    await client.end();
  }
}

const scope = (tenantId: string): [string, unknown[]] => ["SELECT set_config('shardgate.tenant_id', $1, true)", [tenantId]];

describe('row-level security: the second wall in the database', function () {
  this.timeout(60_000);
  let gw: TestGateway;
  let a: TestTenant;
  let b: TestTenant;
  let shard: ClusterShard;

  before(async () => {
    gw = await TestGateway.start();
    // two tenants on one shard, each with a product, a user and an order
    a = await gw.createTenant('rls');
    for (;;) {
      b = await gw.createTenant('rls');
      if (b.shard === a.shard) break;
    }
    shard = testCluster().shards.find((s) => s.id === a.shard)!;
    for (const t of [a, b]) {
      const product = await t.request('POST', '/v1/products', { body: { name: `${t.id} thing`, price: '1.00', stock: 5 } });
      expect(product.status).to.equal(201);
      const user = await t.createUser();
      expect(user.status).to.equal(201);
      const order = await t.request('POST', '/v1/orders', { body: { customerId: user.body.id, items: [{ productId: product.body.id, quantity: 1 }] } });
      expect(order.status).to.equal(201);
    }
  });
  after(async () => {
    await gw?.stop();
  });

  it('serves requests with a least-privilege role: no superuser, REPLICATION or BYPASSRLS, owning nothing', async () => {
    for (const s of testCluster().shards) {
      for (const url of [s.primary, ...s.replicas]) {
        const [role] = await sql<{ name: string; rolsuper: boolean; rolreplication: boolean; rolbypassrls: boolean; owned: number }>(
          url,
          `SELECT current_user AS name, rolsuper, rolreplication, rolbypassrls,
                  (SELECT count(*)::int FROM pg_class c WHERE c.relowner = r.oid) AS owned
             FROM pg_roles r WHERE r.rolname = current_user`,
        );
        expect(role, url.replace(/:[^:@/]+@/, ':***@')).to.include({ rolsuper: false, rolreplication: false, rolbypassrls: false, owned: 0 });
        expect(role!.name).to.not.equal('postgres');
      }
    }
    const [admin] = await sql<{ bypass: boolean }>(shard.admin.primary, 'SELECT rolsuper OR rolbypassrls AS bypass FROM pg_roles WHERE rolname = current_user');
    expect(admin!.bypass, 'the admin URLs are the privileged role').to.equal(true);
  });

  it('shows a session that names no tenant no row of any tenant table, on the primary and the replica', async () => {
    const [stored] = await sql<{ n: number }>(shard.admin.primary, 'SELECT count(*)::int AS n FROM products WHERE tenant_id = ANY($1)', [[a.id, b.id]]);
    expect(stored!.n).to.equal(2);
    for (const url of [shard.primary, shard.replicas[0]!]) {
      for (const table of ['products', 'users', 'orders', 'order_items', 'payments', 'audit_log']) {
        const [seen] = await sql<{ n: number }>(url, `SELECT count(*)::int AS n FROM ${table}`);
        expect(seen!.n, `${table} without a tenant`).to.equal(0);
      }
    }
  });

  it('shows a session scoped to a tenant only that tenant’s rows, and refuses to write another’s', async () => {
    const rows = await inTransaction(shard.primary, [scope(a.id), ['SELECT DISTINCT tenant_id FROM products UNION SELECT DISTINCT tenant_id FROM orders']]);
    expect(rows.map((r) => r.tenant_id)).to.deep.equal([a.id]);
    // even a statement that names the other tenant sees nothing of it
    const theirs = await inTransaction(shard.primary, [scope(a.id), ['SELECT count(*)::int AS n FROM products WHERE tenant_id = $1', [b.id]]]);
    expect(theirs[0]!.n).to.equal(0);
    const updated = await inTransaction(shard.primary, [scope(a.id), ["UPDATE products SET name = 'taken' WHERE tenant_id = $1 RETURNING id", [b.id]]]);
    expect(updated).to.deep.equal([]);
    const insert = inTransaction(shard.primary, [
      scope(a.id),
      ["INSERT INTO products (tenant_id, id, name, price, stock, version, created_at, updated_at) VALUES ($1, gen_random_uuid(), 'x', 1, 1, 0, now(), now())", [b.id]],
    ]);
    const err = (await insert.catch((e: unknown) => e)) as { code?: string };
    expect(err.code, 'WITH CHECK refuses a row of another tenant').to.equal('42501');
    // the scope is transaction-local: the next transaction on the connection starts with none
    const client = new pg.Client({ connectionString: shard.primary });
    await client.connect();
    try {
      await client.query('BEGIN');
      await client.query(scope(a.id)[0], scope(a.id)[1]);
      expect((await client.query('SELECT count(*)::int AS n FROM products')).rows[0].n).to.equal(1);
      await client.query('COMMIT');
      expect((await client.query('SELECT count(*)::int AS n FROM products')).rows[0].n).to.equal(0);
    } finally {
      await client.end();
    }
  });

  it('cannot write through a move’s fence, bypass switch or not', async () => {
    await sql(shard.admin.primary, "INSERT INTO tenant_fences (tenant_id, move_id) VALUES ($1, 'rls-test')", [a.id]);
    try {
      const write = inTransaction(shard.primary, [
        scope(a.id),
        ["SELECT set_config('shardgate.bypass_fence', 'on', true)"],
        ["UPDATE products SET stock = stock + 1 WHERE tenant_id = $1", [a.id]],
      ]);
      expect(((await write.catch((e: unknown) => e)) as { code?: string }).code).to.equal('SG001');
    } finally {
      await sql(shard.admin.primary, 'DELETE FROM tenant_fences WHERE tenant_id = $1', [a.id]);
    }
  });

  it('keeps row-level security on the fence table: the request role reads every fence and writes none', async () => {
    await sql(shard.admin.primary, "INSERT INTO tenant_fences (tenant_id, move_id) VALUES ($1, 'rls-fence-read')", [b.id]);
    try {
      for (const s of testCluster().shards) {
        const [table] = await sql<{ enabled: boolean }>(s.admin.primary, `SELECT relrowsecurity AS enabled FROM pg_class WHERE oid = 'public.tenant_fences'::regclass`);
        expect(table!.enabled, `${s.id}: row-level security on tenant_fences`).to.equal(true);
      }
      // unscoped, as the guard runs for any writer: it must see the fence of every tenant
      const seen = await sql<{ n: number }>(shard.primary, 'SELECT count(*)::int AS n FROM tenant_fences WHERE tenant_id = $1', [b.id]);
      expect(seen[0]!.n).to.equal(1);
      const write = await sql(shard.primary, "DELETE FROM tenant_fences WHERE tenant_id = $1", [b.id]).catch((e: unknown) => e);
      expect((write as { code?: string }).code, 'the request role cannot lift a fence').to.equal('42501');
    } finally {
      await sql(shard.admin.primary, 'DELETE FROM tenant_fences WHERE tenant_id = $1', [b.id]);
    }
  });

  it('has a policy, enabled and forced, on every tenant table of every shard (a new table without one fails here)', async () => {
    for (const s of testCluster().shards) {
      const missing = await sql<{ table: string; why: string }>(
        s.admin.primary,
        `SELECT c.relname::text AS table,
                concat_ws(', ',
                  CASE WHEN NOT c.relrowsecurity THEN 'not enabled' END,
                  CASE WHEN NOT c.relforcerowsecurity THEN 'not forced' END,
                  CASE WHEN NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'tenant_isolation') THEN 'no policy' END,
                  CASE WHEN NOT has_table_privilege('shardgate_request', c.oid, 'SELECT, INSERT, UPDATE, DELETE') THEN 'no grant' END) AS why
           FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname <> 'tenant_fences' AND NOT c.relispartition
            AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
            AND (NOT c.relrowsecurity OR NOT c.relforcerowsecurity
                 OR NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'tenant_isolation')
                 OR NOT has_table_privilege('shardgate_request', c.oid, 'SELECT, INSERT, UPDATE, DELETE'))`,
      );
      expect(missing, s.id).to.deep.equal([]);
      // a partition is reached through its parent, whose policy applies there; the request
      // role may not name one directly (it would pass no policy of the parent's)
      const reachable = await sql<{ table: string }>(
        s.admin.primary,
        `SELECT c.relname::text AS table FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relispartition
            AND (has_table_privilege('shardgate_request', c.oid, 'SELECT') OR has_table_privilege('shardgate_request', c.oid, 'INSERT')
                 OR has_table_privilege('shardgate_request', c.oid, 'UPDATE') OR has_table_privilege('shardgate_request', c.oid, 'DELETE'))`,
      );
      expect(reachable, `${s.id}: partitions the request role can name`).to.deep.equal([]);
      const [partitions] = await sql<{ n: number }>(s.admin.primary, `SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'series_points'::regclass`);
      expect(partitions!.n, 'series_points has partitions (so the check above checked something)').to.be.greaterThan(0);
      const [tables] = await sql<{ n: number }>(
        s.admin.primary,
        `SELECT count(*)::int AS n FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid WHERE p.polname = 'tenant_isolation'`,
      );
      expect(tables!.n, 'policies exist at all').to.be.at.least(8);
    }
  });

  it('scopes each statement in its own round trip, both statements prepared once per connection and re-made after a failure', async () => {
    const client = new pg.Client({ connectionString: shard.primary });
    await client.connect();
    try {
      const countSql = 'SELECT count(*)::int AS n FROM products';
      const count = async (scope: Scope) => (await scoped(client, countSql, [], scope)).rows[0].n as number;
      expect(await count({ tenantId: a.id })).to.equal(1);
      expect(await count({ tenantId: b.id })).to.equal(1);
      expect(await count({ tenantId: 'nobody' })).to.equal(0);
      // the scope ended with the statement: a plain one on the same connection sees nothing
      expect((await client.query('SELECT count(*)::int AS n FROM products')).rows[0].n).to.equal(0);
      const prepared = async () =>
        (await client.query("SELECT statement FROM pg_prepared_statements WHERE name LIKE 'sg\\_%' ORDER BY prepare_time, name")).rows.map((r: { statement: string }) => r.statement);
      expect(await prepared()).to.deep.equal([SCOPE_SQL.tenant, countSql]);
      // a scope statement that fails (PostgreSQL refuses a NUL byte in its parameter) fails
      // the statement and leaves the connection able to scope the next one
      const failed = await scoped(client, 'SELECT 1', [], { tenantId: 'a\u0000b' }).then(() => undefined, (e: Error) => e);
      expect(failed?.message).to.match(/invalid byte sequence|0x00/);
      expect(await count({ tenantId: a.id })).to.equal(1);
      expect((await prepared()).filter((text) => text === SCOPE_SQL.tenant || text === countSql)).to.have.length(2);
      // a scope that takes a role (the embedded default) is not prepared: one session there serves every connection
      const before = (await prepared()).length;
      const role = await scoped(client, 'SELECT current_user::text AS r', [], { tenantId: a.id, role: 'shardgate_request' });
      expect(role.rows[0].r).to.equal('shardgate_request');
      expect(await prepared()).to.have.length(before);
      // nor with prepared statements off (db.preparedStatements: a pooler in transaction mode), still scoped
      const unpreparedSql = 'SELECT count(*)::int AS unprepared FROM products';
      expect((await scoped(client, unpreparedSql, [], { tenantId: a.id }, false)).rows[0].unprepared).to.equal(1);
      expect((await scoped(client, unpreparedSql, [], { tenantId: 'nobody' }, false)).rows[0].unprepared).to.equal(0);
      expect(await prepared()).to.have.length(before);
      // texts made from data cannot grow the server's statements without bound: the least recently used are closed
      for (let i = 0; i < STATEMENT_CACHE_SIZE + 20; i++) expect((await scoped(client, `SELECT ${i}::int AS n`, [], { tenantId: a.id })).rows[0].n).to.equal(i);
      expect((await prepared()).length).to.equal(STATEMENT_CACHE_SIZE);
      expect(await count({ tenantId: b.id }), 'an evicted statement is prepared again').to.equal(1);
    } finally {
      await client.end();
    }
  });

  it('runs a prepared statement again, made anew, when its table changed shape under it', async () => {
    const table = `plan_probe_${Date.now()}`;
    await sql(shard.admin.primary, `CREATE TABLE ${table} (tenant_id text, a int); INSERT INTO ${table} VALUES ('x', 1); GRANT SELECT ON ${table} TO shardgate_request`);
    try {
      const node = gw.gateway.registry.get(shard.id).primary;
      const probe = `SELECT * FROM ${table}`;
      // every pooled connection prepares it
      await Promise.all(Array.from({ length: 8 }, () => node.query(probe, [], a.id)));
      await sql(shard.admin.primary, `ALTER TABLE ${table} ADD COLUMN b int DEFAULT 2`);
      const after = await Promise.all(Array.from({ length: 8 }, () => node.query<{ b: number }>(probe, [], a.id)));
      for (const rows of after) expect(rows).to.deep.equal([{ tenant_id: 'x', a: 1, b: 2 }]);
    } finally {
      await sql(shard.admin.primary, `DROP TABLE ${table}`);
    }
  });

  it('serves every API read and write through the wall: each tenant still sees its own data', async () => {
    for (const t of [a, b]) {
      const products = await t.request('GET', '/v1/products', { headers: { 'x-consistency': 'strong' } });
      expect((products.body.items as Array<{ name: string }>).map((p) => p.name)).to.deep.equal([`${t.id} thing`]);
      const orders = await t.request('GET', '/v1/orders?total=true');
      expect(orders.body.total).to.equal(1);
      const ranking = await t.request('GET', '/v1/analytics/product-ranking', { headers: { 'x-consistency': 'strong' } });
      expect(ranking.body.items).to.have.length(1);
    }
  });
});
