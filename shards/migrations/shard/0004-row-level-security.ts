import type { Migration, MigrationDb } from '../migration.js';

/** The group role request connections log in as a member of: DML on tenant tables, nothing else. */
export const REQUEST_ROLE = 'shardgate_request';

/** The rows of the tenant a session named: what the request role sees and may write. */
const TENANT_SCOPE = `tenant_id = (SELECT current_setting('shardgate.tenant_id', true))`;

/**
 * The policy and grants of a tenant table a later migration creates, written in that
 * migration right after its CREATE TABLE and its own `ALTER TABLE … ENABLE ROW LEVEL
 * SECURITY, FORCE ROW LEVEL SECURITY` (spelled out there, so a reader of the migration sees
 * the table is held to it): the tenant_isolation policy and the request role's DML. A
 * partitioned table gets both on the parent (its partitions are reached only through it).
 * The same as what shardgate_apply_tenant_policies() gives every tenant table; the
 * row-level-security test lists any table without them.
 */
export function tenantPolicySql(table: string): string {
  return `
    CREATE POLICY tenant_isolation ON ${table} USING (${TENANT_SCOPE}) WITH CHECK (${TENANT_SCOPE});
    GRANT SELECT, INSERT, UPDATE, DELETE ON ${table} TO ${REQUEST_ROLE};`;
}

/**
 * Row-level security, the second wall behind the `tenant_id` predicate of every query:
 * on every tenant table (a `public` table with a `tenant_id` column) a session sees and
 * writes only the rows of the tenant it named with
 * `set_config('shardgate.tenant_id', <tenant>, true)` — transaction-local, so it ends with
 * the statement or transaction that set it and never leaks to the next user of a pooled
 * connection. A session that named none sees nothing: `current_setting(…, true)` is NULL.
 *
 * FORCE applies the policies to the tables' owner too; only roles with BYPASSRLS (and
 * superusers) — the privileged role of migrations, moves and backups — pass them.
 * `(SELECT current_setting(…))` is an InitPlan: evaluated once per statement, not per row.
 *
 * The request role (`shardgate_request`, NOLOGIN: the login role of each cluster is made a
 * member of it) gets SELECT/INSERT/UPDATE/DELETE on tenant tables and SELECT on the move
 * fence table, and owns nothing. The fence's bypass switch is honoured only for superusers
 * and BYPASSRLS roles, so a request connection cannot write through a move's fence.
 */
export const RLS_SQL = `
  DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${REQUEST_ROLE}') THEN
      CREATE ROLE ${REQUEST_ROLE} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
    END IF;
  END $$;
  GRANT USAGE ON SCHEMA public TO ${REQUEST_ROLE};
  GRANT SELECT ON public.tenant_fences TO ${REQUEST_ROLE};

  CREATE OR REPLACE FUNCTION public.shardgate_apply_tenant_policies() RETURNS integer LANGUAGE plpgsql AS $fn$
  DECLARE
    r record;
    n integer := 0;
  BEGIN
    FOR r IN
      SELECT c.oid::regclass AS rel, c.oid AS oid
        FROM pg_class c
        JOIN pg_namespace ns ON ns.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
       WHERE ns.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
         AND c.relname <> 'tenant_fences'
    LOOP
      EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', r.rel);
      IF NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = r.oid AND p.polname = 'tenant_isolation') THEN
        EXECUTE format(
          'CREATE POLICY tenant_isolation ON %s USING (${TENANT_SCOPE.replaceAll("'", "''")}) WITH CHECK (${TENANT_SCOPE.replaceAll("'", "''")})',
          r.rel);
        n := n + 1;
      END IF;
      EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO ${REQUEST_ROLE}', r.rel);
    END LOOP;
    RETURN n;
  END
  $fn$;

  CREATE OR REPLACE FUNCTION public.shardgate_fence_guard() RETURNS trigger LANGUAGE plpgsql AS $fn$
  DECLARE
    tid text;
    old_tid text;
  BEGIN
    -- the bypass is the mover's (cleanup of a source), honoured only for a privileged role
    IF current_setting('shardgate.bypass_fence', true) IS DISTINCT FROM 'on'
       OR NOT (SELECT r.rolsuper OR r.rolbypassrls FROM pg_roles r WHERE r.rolname = current_user) THEN
      IF TG_OP = 'DELETE' THEN tid := OLD.tenant_id; ELSE tid := NEW.tenant_id; END IF;
      IF NOT pg_try_advisory_xact_lock_shared(7301, hashtext(tid))
         OR EXISTS (SELECT 1 FROM public.tenant_fences f WHERE f.tenant_id = tid) THEN
        RAISE EXCEPTION USING ERRCODE = 'SG001', MESSAGE = format('tenant %s is fenced: it is moving to another shard', tid),
          HINT = 'refresh the placement and retry';
      END IF;
      IF TG_OP = 'UPDATE' THEN
        old_tid := OLD.tenant_id;
        IF old_tid IS DISTINCT FROM tid AND (NOT pg_try_advisory_xact_lock_shared(7301, hashtext(old_tid))
           OR EXISTS (SELECT 1 FROM public.tenant_fences f WHERE f.tenant_id = old_tid)) THEN
          RAISE EXCEPTION USING ERRCODE = 'SG001', MESSAGE = format('tenant %s is fenced: it is moving to another shard', old_tid);
        END IF;
      END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
  END
  $fn$;
`;

/**
 * For every later shard migration that adds a tenant table: its policy and grants, in the
 * same migration (test/integration/row-level-security.test.ts lists tables without one).
 */
export async function applyTenantPolicies(sequelize: MigrationDb): Promise<void> {
  await sequelize.query('SELECT public.shardgate_apply_tenant_policies()');
}

export const shard0004: Migration = {
  name: '0004-row-level-security',
  async up(sequelize) {
    await sequelize.query(RLS_SQL);
    await applyTenantPolicies(sequelize);
  },
  async down(sequelize) {
    await sequelize.query(`
      DO $$ DECLARE r record; BEGIN
        FOR r IN SELECT polrelid::regclass AS rel FROM pg_policy WHERE polname = 'tenant_isolation' LOOP
          EXECUTE format('DROP POLICY tenant_isolation ON %s', r.rel);
          EXECUTE format('ALTER TABLE %s NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY', r.rel);
        END LOOP;
      END $$;
      DROP FUNCTION public.shardgate_apply_tenant_policies();
    `);
  },
};
