import { expect } from 'chai';
import { loadModule } from 'libpg-query';
import { ValidationError } from '../../src/errors/errors.js';
import { partitionIndexName, partitionIndexSql, planDdl, UnsafeDdlError, type PlannedStatement, type ShardSchema } from '../../src/schema/ddl/plan-ddl.js';
import { renderStatement } from '../../src/schema/ddl/postgres-grammar.js';

/**
 * The DDL safety check, table-driven: every form it plans with the exact statements the
 * rollout engine would run, and every class of refusal with what the message must name
 * (the table or column, and the safe recipe). No database: the parser is the check.
 */
const schema: ShardSchema = {
  tables: new Map([
    ['orders', { columns: new Set(['id', 'tenant_id', 'status', 'total', 'created_at']), indexes: new Set(['orders_pkey', 'orders_status_idx']) }],
    ['users', { columns: new Set(['id', 'tenant_id', 'email', 'Display Name']), indexes: new Set(['users_pkey', 'users_email_uniq']) }],
    ['series_points', { columns: new Set(['tenant_id', 'series', 'at', 'value', 'labels']), indexes: new Set(['series_points_at_brin']), partitioned: true }],
  ]),
};

type Plan = Omit<PlannedStatement, 'concurrent' | 'lockTimeout'>;
const index = (sql: string, name: string | undefined, table: string): PlannedStatement => ({
  sql,
  kind: 'index',
  concurrent: true,
  lockTimeout: false,
  ...(name === undefined ? {} : { index: name }),
  table,
});
const locked = (plan: Plan): PlannedStatement => ({ ...plan, concurrent: false, lockTimeout: true });
const column = (sql: string, table = 'orders') => locked({ sql, kind: 'column', table });
const backfill = (sql: string) => locked({ sql, kind: 'backfill', table: 'orders' });
const RANGE = 'ctid >= CAST($1 AS tid) AND ctid < CAST($2 AS tid)';

const allowed: ReadonlyArray<readonly [string, string, PlannedStatement[]]> = [
  // indexes: rewritten CONCURRENTLY, named, IF NOT EXISTS kept
  ['a plain index', 'CREATE INDEX orders_created_idx ON orders (tenant_id, created_at)', [index('CREATE INDEX CONCURRENTLY orders_created_idx ON orders (tenant_id, created_at)', 'orders_created_idx', 'orders')]],
  [
    'a unique, partial, expression index with IF NOT EXISTS',
    'CREATE UNIQUE INDEX IF NOT EXISTS users_email_lower ON public.users (tenant_id, lower(email)) WHERE email IS NOT NULL',
    [index('CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS users_email_lower ON public.users (tenant_id, (lower(email))) WHERE email IS NOT NULL', 'users_email_lower', 'users')],
  ],
  ['an index with INCLUDE and a method', 'CREATE INDEX orders_cover ON orders USING btree (status DESC) INCLUDE (total)', [index('CREATE INDEX CONCURRENTLY orders_cover ON orders (status DESC) INCLUDE (total)', 'orders_cover', 'orders')]],
  ['an index already CONCURRENTLY', 'create index concurrently orders_total_idx on orders (total)', [index('CREATE INDEX CONCURRENTLY orders_total_idx ON orders (total)', 'orders_total_idx', 'orders')]],
  ['an index on a quoted column', 'CREATE INDEX users_display ON users ("Display Name")', [index('CREATE INDEX CONCURRENTLY users_display ON users ("Display Name")', 'users_display', 'users')]],
  ['DROP INDEX', 'DROP INDEX orders_status_idx', [index('DROP INDEX CONCURRENTLY orders_status_idx', 'orders_status_idx', 'orders')]],
  ['DROP INDEX IF EXISTS, qualified by public', 'DROP INDEX IF EXISTS public.users_email_uniq', [index('DROP INDEX CONCURRENTLY IF EXISTS public.users_email_uniq', 'users_email_uniq', 'users')]],
  ['REINDEX INDEX CONCURRENTLY', 'REINDEX INDEX CONCURRENTLY orders_status_idx', [index('REINDEX (CONCURRENTLY) INDEX orders_status_idx', 'orders_status_idx', 'orders')]],
  ['REINDEX TABLE CONCURRENTLY', 'REINDEX (CONCURRENTLY) TABLE orders', [index('REINDEX (CONCURRENTLY) TABLE orders', undefined, 'orders')]],
  // constraints: NOT VALID, then VALIDATE
  [
    'a CHECK',
    'ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0)',
    [
      locked({ sql: 'ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0) NOT VALID', kind: 'constraint', table: 'orders' }),
      locked({ sql: 'ALTER TABLE orders VALIDATE CONSTRAINT orders_total_positive', kind: 'validate', table: 'orders' }),
    ],
  ],
  [
    'a FOREIGN KEY',
    'ALTER TABLE orders ADD CONSTRAINT orders_buyer FOREIGN KEY (tenant_id, id) REFERENCES users (tenant_id, id) ON DELETE CASCADE',
    [
      locked({ sql: 'ALTER TABLE orders ADD CONSTRAINT orders_buyer FOREIGN KEY (tenant_id, id) REFERENCES users (tenant_id, id) ON DELETE CASCADE NOT VALID', kind: 'constraint', table: 'orders' }),
      locked({ sql: 'ALTER TABLE orders VALIDATE CONSTRAINT orders_buyer', kind: 'validate', table: 'orders' }),
    ],
  ],
  [
    'a CHECK the operator wrote NOT VALID (validating it is their next step)',
    'ALTER TABLE orders ADD CONSTRAINT orders_status_known CHECK (status IN (\'new\', \'paid\')) NOT VALID',
    [locked({ sql: "ALTER TABLE orders ADD CONSTRAINT orders_status_known CHECK (status IN ('new', 'paid')) NOT VALID", kind: 'constraint', table: 'orders' })],
  ],
  ['VALIDATE CONSTRAINT', 'ALTER TABLE orders VALIDATE CONSTRAINT orders_status_known', [locked({ sql: 'ALTER TABLE orders VALIDATE CONSTRAINT orders_status_known', kind: 'validate', table: 'orders' })]],
  [
    'UNIQUE over an index built concurrently',
    'ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_uniq',
    [locked({ sql: 'ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_uniq', kind: 'constraint', table: 'users' })],
  ],
  // columns: metadata-only since PostgreSQL 11
  ['ADD COLUMN with no default', 'ALTER TABLE orders ADD COLUMN note text', [column('ALTER TABLE orders ADD COLUMN note text')]],
  ['ADD COLUMN with a constant default', 'ALTER TABLE orders ADD COLUMN priority integer DEFAULT 0', [column('ALTER TABLE orders ADD COLUMN priority int DEFAULT 0')]],
  ['ADD COLUMN NOT NULL with a constant default', "ALTER TABLE orders ADD note text NOT NULL DEFAULT ''", [column("ALTER TABLE orders ADD COLUMN note text NOT NULL DEFAULT ''")]],
  ['ADD COLUMN with a cast constant', "ALTER TABLE orders ADD COLUMN meta jsonb DEFAULT '{}'::jsonb", [column("ALTER TABLE orders ADD COLUMN meta jsonb DEFAULT '{}'::jsonb")]],
  ['ADD COLUMN with a negative numeric', 'ALTER TABLE orders ADD COLUMN discount numeric(10,2) DEFAULT -1.5', [column('ALTER TABLE orders ADD COLUMN discount numeric(10, 2) DEFAULT -1.5')]],
  ['ADD COLUMN with an array of constants', "ALTER TABLE orders ADD COLUMN tags text[] DEFAULT ARRAY['a', 'b']", [column("ALTER TABLE orders ADD COLUMN tags text[] DEFAULT ARRAY['a', 'b']")]],
  ["ADD COLUMN of text DEFAULT 'now' (only date/time input reads the clock)", "ALTER TABLE orders ADD COLUMN word text DEFAULT 'now'", [column("ALTER TABLE orders ADD COLUMN word text DEFAULT 'now'")]],
  ["ADD COLUMN DEFAULT 'epoch'::timestamptz (a fixed instant)", "ALTER TABLE orders ADD COLUMN since timestamptz DEFAULT 'epoch'::timestamptz", [column("ALTER TABLE orders ADD COLUMN since timestamptz DEFAULT 'epoch'::timestamptz")]],
  ['ADD COLUMN DEFAULT NULL', 'ALTER TABLE orders ADD COLUMN shipped_at timestamptz DEFAULT NULL', [column('ALTER TABLE orders ADD COLUMN shipped_at timestamptz DEFAULT NULL')]],
  ["ADD COLUMN with the shards' extension type", "ALTER TABLE orders ADD COLUMN attrs hstore DEFAULT ''::hstore", [column("ALTER TABLE orders ADD COLUMN attrs hstore DEFAULT CAST('' AS hstore)")]],
  ['ADD COLUMN IF NOT EXISTS of a column it has', 'ALTER TABLE orders ADD COLUMN IF NOT EXISTS status text', [column('ALTER TABLE orders ADD COLUMN IF NOT EXISTS status text')]],
  ['ADD COLUMN with a quoted name and a collation', 'ALTER TABLE "users" ADD COLUMN "Nick Name" text COLLATE "C"', [column('ALTER TABLE users ADD COLUMN "Nick Name" text COLLATE "C"', 'users')]],
  ['SET DEFAULT, even volatile (new rows only)', 'ALTER TABLE orders ALTER COLUMN created_at SET DEFAULT now()', [column('ALTER TABLE orders ALTER COLUMN created_at SET DEFAULT now()')]],
  ['DROP DEFAULT', 'ALTER TABLE orders ALTER created_at DROP DEFAULT', [column('ALTER TABLE orders ALTER COLUMN created_at DROP DEFAULT')]],
  ['DROP NOT NULL', 'ALTER TABLE ONLY orders ALTER COLUMN status DROP NOT NULL', [column('ALTER TABLE ONLY orders ALTER COLUMN status DROP NOT NULL')]],
  // backfills: the operator's WHERE, and the batch's block range
  ['a backfill', "UPDATE orders SET status = 'new' WHERE status IS NULL", [backfill(`UPDATE orders SET status = 'new' WHERE status IS NULL AND ${RANGE}`)]],
  [
    'a backfill from the row, with an alias and an OR',
    'UPDATE public.orders o SET status = lower(o.status) || total::text WHERE o.status IS NULL OR total > 3',
    [backfill(`UPDATE public.orders AS o SET status = lower(o.status) || total::text WHERE (o.status IS NULL OR total > 3) AND ${RANGE}`)],
  ],
  ['a backfill of two columns', 'UPDATE orders SET (status, total) = (\'new\', 0) WHERE status IS NULL', [backfill(`UPDATE orders SET (status, total) = ('new', 0) WHERE status IS NULL AND ${RANGE}`)]],
  // partitioned tables: ON ONLY the parent; each partition's index is built by the engine
  ['DROP INDEX of a partitioned index (no CONCURRENTLY for those)', 'DROP INDEX series_points_at_brin', [locked({ sql: 'DROP INDEX series_points_at_brin', kind: 'index', index: 'series_points_at_brin', table: 'series_points' })]],
];

/** [case, ddl, what the message must name (table, column, statement kind), a keyword of the safe recipe] */
const refused: ReadonlyArray<readonly [string, string, readonly string[], string]> = [
  // one statement
  ['an empty text', '', ['no statement'], 'exactly one'],
  ['only a semicolon and a comment', ' ; -- nothing', ['no statement'], 'exactly one'],
  ['two statements', 'CREATE INDEX a ON orders (status); CREATE INDEX b ON orders (total)', ['2 statements'], 'one by one'],
  ['a transaction around it', 'BEGIN; CREATE INDEX a ON orders (status); COMMIT', ['3 statements'], 'exactly one'],
  ['what does not parse', 'CREATE INDEKS a ON orders (status)', ['parser refuses', 'syntax error'], 'PostgreSQL parses'],
  // the shard schema
  ['an unknown table', 'CREATE INDEX a ON invoices (id)', ['no table "invoices" in the shard schema'], 'name a table'],
  ['a table in another schema', 'CREATE INDEX a ON billing.orders (id)', ['"billing"."orders"', 'public'], 'unqualified'],
  ['a table named through a database', 'ALTER TABLE shop.public.orders ADD COLUMN x int', ['"shop"."public"."orders"'], 'unqualified'],
  ['case matters in names', 'ALTER TABLE "Orders" ADD COLUMN x int', ['no table "Orders"'], 'name a table'],
  ['an unknown index column', 'CREATE INDEX a ON orders (paid_at)', ['no column "paid_at" in table "orders"', 'index column'], '"status"'],
  ['an unknown column in an index expression', 'CREATE INDEX a ON orders (lower(state))', ['no column "state"', 'index expression'], 'name a column'],
  ['an unknown INCLUDE column', 'CREATE INDEX a ON orders (status) INCLUDE (paid)', ['no column "paid"'], 'name a column'],
  ["an unknown column in the index's WHERE", 'CREATE INDEX a ON orders (status) WHERE deleted_at IS NULL', ['no column "deleted_at"', 'WHERE'], 'name a column'],
  ['ALTER COLUMN of an unknown column', 'ALTER TABLE orders ALTER COLUMN paid_at DROP DEFAULT', ['no column "paid_at" in table "orders"'], 'name a column'],
  ['a CHECK on an unknown column', 'ALTER TABLE orders ADD CONSTRAINT c CHECK (amount > 0)', ['no column "amount"', 'CHECK'], 'name a column'],
  ['a FOREIGN KEY to an unknown table', 'ALTER TABLE orders ADD CONSTRAINT f FOREIGN KEY (tenant_id) REFERENCES tenants (id)', ['no table "tenants"'], 'name a table'],
  ['a FOREIGN KEY from an unknown column', 'ALTER TABLE orders ADD CONSTRAINT f FOREIGN KEY (buyer_id) REFERENCES users (id)', ['no column "buyer_id"'], 'name a column'],
  ['a FOREIGN KEY to an unknown column', 'ALTER TABLE orders ADD CONSTRAINT f FOREIGN KEY (tenant_id) REFERENCES users (uid)', ['no column "uid" in table "users"'], 'name a column'],
  ['DROP INDEX of an index the schema lacks', 'DROP INDEX IF EXISTS orders_gone_idx', ['no index "orders_gone_idx"'], 'shard schema lists'],
  // indexes
  ['an unnamed index', 'CREATE INDEX ON orders (status)', ['CREATE INDEX on "orders" has no index name', 'INVALID'], 'name it'],
  ['an index name in use', 'CREATE INDEX orders_status_idx ON orders (total)', ['index "orders_status_idx" on "orders" exists already'], 'another name'],
  ['an index name taken by a table', 'CREATE INDEX users ON orders (total)', ['table "users" exists already'], 'another name'],
  ['DROP INDEX of two', 'DROP INDEX orders_status_idx, users_email_uniq', ['2 indexes'], 'one DROP INDEX per index'],
  ['DROP INDEX CASCADE', 'DROP INDEX orders_status_idx CASCADE', ['"orders_status_idx" CASCADE'], 'expand/contract'],
  ['REINDEX without CONCURRENTLY', 'REINDEX INDEX orders_status_idx', ['REINDEX of "orders_status_idx" without CONCURRENTLY'], 'REINDEX INDEX CONCURRENTLY'],
  ['REINDEX of a schema', 'REINDEX SCHEMA CONCURRENTLY public', ['whole schema'], 'one index or table at a time'],
  // constraints
  ['UNIQUE added directly', 'ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (tenant_id, email)', ['"users"', 'UNIQUE builds its unique index'], 'CREATE UNIQUE INDEX <index> ON "users" ("tenant_id", "email") (planned CONCURRENTLY), then ADD CONSTRAINT <name> UNIQUE USING INDEX'],
  ['PRIMARY KEY added directly', 'ALTER TABLE orders ADD PRIMARY KEY (tenant_id, id)', ['"orders"', 'PRIMARY KEY'], 'PRIMARY KEY USING INDEX'],
  ['UNIQUE over an index the schema lacks', 'ALTER TABLE users ADD CONSTRAINT k UNIQUE USING INDEX users_nick_uniq', ['no index "users_nick_uniq" on "users"'], 'CREATE UNIQUE INDEX'],
  ['an unnamed CHECK', 'ALTER TABLE orders ADD CHECK (total >= 0)', ['"orders"', 'no name'], 'ADD CONSTRAINT <name>'],
  ['an EXCLUDE constraint', 'ALTER TABLE orders ADD CONSTRAINT x EXCLUDE USING gist (status WITH =)', ['"orders"', 'EXCLUDE'], 'unique index built concurrently'],
  ['a NOT ENFORCED constraint', 'ALTER TABLE orders ADD CONSTRAINT c CHECK (total > 0) NOT ENFORCED', ['NOT ENFORCED', 'PostgreSQL 18'], 'enforced'],
  // columns
  ['ADD COLUMN DEFAULT now()', 'ALTER TABLE orders ADD COLUMN seen_at timestamptz DEFAULT now()', ['"seen_at" to "orders"', 'now()'], 'backfill the existing rows in batches'],
  ['ADD COLUMN DEFAULT random()', 'ALTER TABLE orders ADD COLUMN r float8 DEFAULT random()', ['"r"', 'random(), which is volatile'], 'SET DEFAULT'],
  ['ADD COLUMN DEFAULT gen_random_uuid()', 'ALTER TABLE orders ADD COLUMN ref uuid DEFAULT gen_random_uuid()', ['gen_random_uuid(), which is volatile'], 'backfill'],
  ['ADD COLUMN DEFAULT clock_timestamp()', 'ALTER TABLE orders ADD COLUMN t timestamptz DEFAULT clock_timestamp()', ['clock_timestamp(), which is volatile'], 'backfill'],
  ["ADD COLUMN DEFAULT nextval('s')", "ALTER TABLE orders ADD COLUMN n bigint DEFAULT nextval('s')", ['nextval(), which is volatile'], 'backfill'],
  ['ADD COLUMN DEFAULT CURRENT_TIMESTAMP', 'ALTER TABLE orders ADD COLUMN t timestamptz DEFAULT CURRENT_TIMESTAMP', ['CURRENT_TIMESTAMP', 'every shard'], 'backfill'],
  ["ADD COLUMN DEFAULT 'now'", "ALTER TABLE orders ADD COLUMN t timestamptz DEFAULT 'now'", ["'now'", 'every shard'], 'backfill'],
  ["ADD COLUMN DEFAULT 'today'::date", "ALTER TABLE orders ADD COLUMN d date DEFAULT 'Today'::date", ["'today'"], 'backfill'],
  ["ADD COLUMN DEFAULT 'now' through a text cast", "ALTER TABLE orders ADD COLUMN t timestamptz DEFAULT 'now'::text::timestamptz", ["'now'"], 'backfill'],
  ['ADD COLUMN DEFAULT of any other call', "ALTER TABLE orders ADD COLUMN s text DEFAULT lower('X')", ['lower()', 'cannot be proven immutable'], 'backfill'],
  ['ADD COLUMN DEFAULT of an expression', 'ALTER TABLE orders ADD COLUMN n int DEFAULT (1 + 2)', ['not a constant'], 'backfill'],
  ['ADD COLUMN NOT NULL with no default', 'ALTER TABLE orders ADD COLUMN region text NOT NULL', ['"region" to "orders" NOT NULL with no default'], 'IS NOT NULL) NOT VALID'],
  ['ADD COLUMN NOT NULL DEFAULT NULL', 'ALTER TABLE orders ADD COLUMN region text NOT NULL DEFAULT NULL::text', ['NOT NULL with no default'], 'constant DEFAULT'],
  ['ADD COLUMN GENERATED … STORED', 'ALTER TABLE orders ADD COLUMN doubled numeric GENERATED ALWAYS AS (total * 2) STORED', ['"doubled"', 'generated column', 'STORED rewrites'], 'backfill'],
  ['ADD COLUMN identity', 'ALTER TABLE orders ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY', ['"seq"', 'identity column'], 'backfill it in batches'],
  ['ADD COLUMN serial', 'ALTER TABLE orders ADD COLUMN seq bigserial', ['"seq"', 'bigserial means DEFAULT nextval'], 'backfill'],
  ['ADD COLUMN of a domain or unknown type', 'ALTER TABLE users ADD COLUMN contact email_address', ['"contact" to "users"', 'email_address is not a built-in type'], "domain's base type"],
  ['ADD COLUMN cast to a domain', "ALTER TABLE users ADD COLUMN contact text DEFAULT 'x'::public.email_address", ['public.email_address'], 'backfill'],
  ['ADD COLUMN with an inline CHECK', 'ALTER TABLE orders ADD COLUMN qty int CHECK (qty > 0)', ['"qty"', 'CHECK on the new column'], 'planned NOT VALID, then VALIDATE CONSTRAINT'],
  ['ADD COLUMN with an inline REFERENCES', 'ALTER TABLE orders ADD COLUMN buyer uuid REFERENCES users (id)', ['REFERENCES on the new column'], 'NOT VALID'],
  ['ADD COLUMN with an inline UNIQUE', 'ALTER TABLE orders ADD COLUMN code text UNIQUE', ['"code"', 'UNIQUE'], 'USING INDEX'],
  ['ADD COLUMN of a column it has', 'ALTER TABLE orders ADD COLUMN status text', ['"status" to "orders"', 'already'], 'IF NOT EXISTS'],
  ['ALTER COLUMN TYPE', 'ALTER TABLE orders ALTER COLUMN total TYPE numeric(12,2)', ['"orders"."total"', 'rewrites the table'], 'add a new column of the new type, fill it in batches'],
  ['SET NOT NULL', 'ALTER TABLE orders ALTER COLUMN status SET NOT NULL', ['"orders"."status"', 'scans'], 'CHECK ("status" IS NOT NULL) (planned NOT VALID, then VALIDATE CONSTRAINT), then SET NOT NULL'],
  ['RENAME of a table', 'ALTER TABLE orders RENAME TO purchases', ['"orders" to "purchases"', 'running gateway'], 'expand/contract'],
  ['RENAME of a column', 'ALTER TABLE orders RENAME COLUMN status TO state', ['"orders"."status" to "state"'], 'expand/contract'],
  ['two changes in one ALTER TABLE', 'ALTER TABLE orders ADD COLUMN a int, ADD COLUMN b int', ['"orders" holds 2 changes'], 'one ALTER TABLE per change'],
  ['ALTER TABLE SET TABLESPACE', 'ALTER TABLE orders SET TABLESPACE fast', ['SET TABLESPACE on "orders"'], 'tenant moves'],
  ['another ALTER TABLE form', 'ALTER TABLE orders DISABLE ROW LEVEL SECURITY', ['"orders" DISABLE ROW SECURITY'], 'ADD COLUMN'],
  ['ALTER INDEX', 'ALTER INDEX orders_status_idx SET TABLESPACE fast', ['ALTER INDEX "orders_status_idx"'], 'ALTER TABLE'],
  // the contract step and the statements that rewrite or lock
  ['DROP TABLE', 'DROP TABLE orders', ['DROP TABLE "orders"'], 'contract step of expand/contract'],
  ['DROP COLUMN', 'ALTER TABLE orders DROP COLUMN total', ['DROP COLUMN "orders"."total"'], 'contract step of expand/contract'],
  ['TRUNCATE', 'TRUNCATE orders, users', ['TRUNCATE "orders", "users"'], 'contract step of expand/contract'],
  ['VACUUM FULL', 'VACUUM FULL orders', ['VACUUM FULL "orders"', 'ACCESS EXCLUSIVE'], 'REINDEX INDEX CONCURRENTLY'],
  ['CLUSTER', 'CLUSTER orders USING orders_status_idx', ['CLUSTER "orders"'], 'expand/contract'],
  ['LOCK TABLE', 'LOCK TABLE orders IN ACCESS EXCLUSIVE MODE', ['LOCK TABLE "orders"'], "lock_timeout = '2s'"],
  ['CREATE TABLE', 'CREATE TABLE coupons (id uuid PRIMARY KEY)', ['CREATE TABLE "coupons"'], 'shard migration'],
  ['DROP VIEW', 'DROP VIEW order_totals', ['DROP VIEW "order_totals"'], 'CREATE [UNIQUE] INDEX'],
  ['anything else', 'CREATE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql', ['CREATE FUNCTION is not a change this API plans'], 'CREATE [UNIQUE] INDEX'],
  ['not DDL at all', 'DELETE FROM orders WHERE status IS NULL', ['DELETE'], 'ALTER TABLE'],
  // backfills
  ['a backfill with no WHERE', "UPDATE orders SET status = 'new'", ['"orders" has no WHERE', 'overwrite values the new code'], 'WHERE <new column> IS NULL'],
  ['a backfill of tenant_id', "UPDATE orders SET tenant_id = 'x' WHERE status IS NULL", ['sets "tenant_id"', 'another tenant'], 'UPDATE <table> SET'],
  ['a backfill of id', 'UPDATE orders SET id = gen_random_uuid() WHERE status IS NULL', ['sets "id"'], 'UPDATE <table> SET'],
  ['a backfill from a sub-query', "UPDATE orders SET status = (SELECT email FROM users LIMIT 1) WHERE status IS NULL", ['sub-query', "other tenants' rows"], "row's own columns"],
  ['a backfill with a sub-query in its WHERE', 'UPDATE orders SET status = 1 WHERE id IN (SELECT id FROM users)', ['the WHERE', 'sub-query'], "row's own columns"],
  ['a backfill FROM another table', "UPDATE orders SET status = u.email FROM users u WHERE u.id = orders.id", ['reads other tables (FROM)'], "row's own columns"],
  ['a backfill with WITH', 'WITH x AS (SELECT 1) UPDATE orders SET status = 1 WHERE status IS NULL', ['WITH clause'], 'UPDATE <table> SET'],
  ['a backfill with RETURNING', "UPDATE orders SET status = 'new' WHERE status IS NULL RETURNING id", ['RETURNING'], 'UPDATE <table> SET'],
  ['a backfill of an unknown column', "UPDATE orders SET state = 'new' WHERE status IS NULL", ['no column "state" in table "orders"', 'the backfill sets'], 'name a column'],
  ['a backfill reading an unknown column', 'UPDATE orders SET status = paid_at::text WHERE status IS NULL', ['no column "paid_at"', 'the value'], 'name a column'],
  ['a backfill naming ctid itself (the engine owns the range)', "UPDATE orders SET status = 'x' WHERE ctid > '(0,0)'", ['no column "ctid"'], 'name a column'],
  ['a backfill of a partitioned table', 'UPDATE series_points SET value = 0 WHERE value IS NULL', ['"series_points" is partitioned'], 'partitions one by one'],
  ['a backfill of an unknown table', "UPDATE invoices SET status = 'x' WHERE status IS NULL", ['no table "invoices"'], 'name a table'],
];

async function refusal(ddl: string, on: ShardSchema = schema): Promise<UnsafeDdlError> {
  try {
    const plan = await planDdl(ddl, on);
    throw new Error(`planned ${JSON.stringify(plan)}`);
  } catch (err) {
    if (!(err instanceof UnsafeDdlError)) throw err;
    return err;
  }
}

describe('planDdl (the DDL safety check for online schema changes)', () => {
  describe('plans', () => {
    for (const [name, ddl, plan] of allowed) {
      it(name, async () => {
        expect(await planDdl(ddl, schema)).to.deep.equal(plan);
      });
    }

    it('runs every ALTER TABLE, backfill and partitioned-table catalog change under lock_timeout, and every CONCURRENTLY statement outside a transaction', async () => {
      for (const [, ddl] of allowed) {
        for (const step of await planDdl(ddl, schema)) {
          expect(step.lockTimeout, step.sql).to.equal(step.sql.startsWith('ALTER TABLE ') || step.kind === 'backfill' || step.table === 'series_points');
          expect(step.concurrent, step.sql).to.equal(step.sql.includes('CONCURRENTLY'));
          expect(step.concurrent && step.lockTimeout, step.sql).to.equal(false);
        }
      }
    });
  });

  describe('refuses, saying why and what to do instead', () => {
    for (const [name, ddl, names, recipe] of refused) {
      it(name, async () => {
        const err = await refusal(ddl);
        expect(err).to.be.instanceOf(ValidationError);
        expect(err.code).to.equal('VALIDATION_FAILED');
        expect(err.status).to.equal(400);
        expect(err.field).to.equal('ddl');
        expect(err.message).to.match(/^ddl: .+\. Instead: /s);
        for (const part of names) expect(err.reason, err.message).to.include(part);
        expect(err.recipe, err.message).to.include(recipe);
      });
    }

    it('refuses DROP INDEX when the schema lists no indexes (the plan could not name its table)', async () => {
      const bare: ShardSchema = { tables: new Map([['orders', { columns: new Set(['id', 'status']) }]]) };
      expect((await refusal('DROP INDEX orders_status_idx', bare)).reason).to.include('no index "orders_status_idx"');
      expect(await planDdl('CREATE INDEX orders_s ON orders (status)', bare)).to.have.length(1);
    });
  });

  describe('indexes on a partitioned table', () => {
    it('creates the parent ON ONLY under the lock timeout, and each partition CONCURRENTLY under its own name', async () => {
      const [step, ...rest] = await planDdl('CREATE INDEX series_labels ON series_points USING gin (labels) WHERE value > 0', schema);
      expect(rest).to.deep.equal([]);
      expect(step).to.include({ sql: 'CREATE INDEX series_labels ON ONLY series_points USING gin (labels) WHERE value > 0', kind: 'partitioned-index', concurrent: false, lockTimeout: true, index: 'series_labels', table: 'series_points' });
      expect(await partitionIndexSql(step!, 'series_points_p20261206', partitionIndexName('series_labels', 'series_points_p20261206'))).to.equal(
        'CREATE INDEX CONCURRENTLY series_points_p20261206_series_labels ON public.series_points_p20261206 USING gin (labels) WHERE value > 0',
      );
    });

    it('keeps UNIQUE and IF NOT EXISTS on the parent and drops IF NOT EXISTS per partition (an INVALID leftover must be seen)', async () => {
      const [step] = await planDdl('CREATE UNIQUE INDEX IF NOT EXISTS sp_key ON public.series_points (tenant_id, series, at)', schema);
      expect(step!.sql).to.equal('CREATE UNIQUE INDEX IF NOT EXISTS sp_key ON ONLY public.series_points (tenant_id, series, at)');
      expect(await partitionIndexSql(step!, 'p1', 'p1_sp_key')).to.equal('CREATE UNIQUE INDEX CONCURRENTLY p1_sp_key ON public.p1 (tenant_id, series, at)');
    });

    it('still checks the columns of a partitioned table', async () => {
      expect((await refusal('CREATE INDEX s ON series_points (tags)')).reason).to.include('no column "tags" in table "series_points"');
    });

    it('names partition indexes within 63 bytes, distinct when cut', () => {
      expect(partitionIndexName('idx', 'series_points_p1')).to.equal('series_points_p1_idx');
      const long = 'x'.repeat(40);
      const a = partitionIndexName(`${long}_a`, 'series_points_p20261206');
      const b = partitionIndexName(`${long}_b`, 'series_points_p20261206');
      expect(Buffer.byteLength(a)).to.equal(63);
      expect(a).to.not.equal(b);
      expect(Buffer.byteLength(partitionIndexName('ü'.repeat(40), 'series_points_p20261206'))).to.be.at.most(63);
    });

    it('refuses a step that is not a partitioned index', async () => {
      const [step] = await planDdl('CREATE INDEX o ON orders (status)', schema);
      let error: unknown;
      await partitionIndexSql(step!, 'p', 'p_o').catch((err: unknown) => (error = err));
      expect(error).to.be.instanceOf(TypeError);
    });
  });

  it('refuses a plan the deparser cannot write back faithfully, rather than run something else', async () => {
    await loadModule();
    // idxcomment has no SQL syntax of its own: the written statement parses back without it
    const statement = { IndexStmt: { idxname: 'i', relation: { relname: 'orders', inh: true, relpersistence: 'p' }, indexParams: [{ IndexElem: { name: 'status' } }], idxcomment: 'lost' } };
    expect(() => renderStatement(statement)).to.throw(UnsafeDdlError, 'could not be written back');
  });
});
