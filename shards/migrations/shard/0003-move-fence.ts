import type { Migration, MigrationDb } from '../migration.js';

/**
 * The write fence of tenant moves, enforced by the shard itself (so a gateway with a stale
 * placement cannot write to the old shard): a BEFORE row trigger on every tenant table
 * refuses a fenced tenant's writes with SQLSTATE SG001.
 *
 * A tenant is fenced when either
 * - a move holds the exclusive advisory lock (7301, hashtext(tenant)): taken while the
 *   fence is placed and held until the move ends. Writers only *try* the shared lock, so
 *   they are refused at once rather than queued, and the check does not depend on the
 *   writer's snapshot (a REPEATABLE READ transaction cannot see a fence row committed
 *   after it started); the move's lock waits for writers already in flight to finish.
 * - or it has a row in tenant_fences: survives the move's session; on the shard a tenant
 *   moved away from, it stays as a tombstone so a very stale gateway is still refused.
 *
 * Cost per written row: one advisory try-lock (re-taken cheaply within a transaction)
 * and a primary-key probe of a table of a few rows. `SET LOCAL shardgate.bypass_fence =
 * 'on'` skips it: only the mover's own cleanup uses it.
 */
/**
 * Row-level security on the fence table (not a tenant table: no tenant_isolation policy):
 * every session may read it — the guard below runs as the writer and must see every fence —
 * and no policy lets anyone but the privileged role (its owner, not forced) write it.
 * Idempotent: migration 0012 runs it on shards made before it was here.
 */
export const FENCE_ROW_SECURITY_SQL = `
  ALTER TABLE tenant_fences ENABLE ROW LEVEL SECURITY;
  DROP POLICY IF EXISTS fences_readable ON tenant_fences;
  CREATE POLICY fences_readable ON tenant_fences FOR SELECT USING (true);
`;

export const FENCE_SQL = `
  CREATE TABLE IF NOT EXISTS tenant_fences (
    tenant_id  text PRIMARY KEY,
    move_id    text,
    fenced_at  timestamptz NOT NULL DEFAULT now()
  );
  ${FENCE_ROW_SECURITY_SQL}

  CREATE OR REPLACE FUNCTION public.shardgate_fence_guard() RETURNS trigger LANGUAGE plpgsql AS $fn$
  DECLARE
    tid text;
    old_tid text;
  BEGIN
    IF current_setting('shardgate.bypass_fence', true) IS DISTINCT FROM 'on' THEN
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

  -- every table with a tenant_id column, found in the catalog so new tables are covered
  -- by calling this again (later migrations do; the mover does before every fence)
  CREATE OR REPLACE FUNCTION public.shardgate_apply_fence_triggers() RETURNS integer LANGUAGE plpgsql AS $fn$
  DECLARE
    r record;
    n integer := 0;
  BEGIN
    FOR r IN
      SELECT c.oid::regclass AS rel
        FROM pg_class c
        JOIN pg_namespace ns ON ns.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
       WHERE ns.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
         AND c.relname <> 'tenant_fences'
         AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname = 'shardgate_fence')
    LOOP
      EXECUTE format('CREATE TRIGGER shardgate_fence BEFORE INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION public.shardgate_fence_guard()', r.rel);
      n := n + 1;
    END LOOP;
    RETURN n;
  END
  $fn$;
`;

/** For later shard migrations that add tenant tables: puts the fence trigger on them. */
export async function applyFenceTriggers(sequelize: MigrationDb): Promise<void> {
  await sequelize.query('SELECT public.shardgate_apply_fence_triggers()');
}

export const shard0003: Migration = {
  name: '0003-move-fence',
  async up(sequelize) {
    await sequelize.query(FENCE_SQL);
    await applyFenceTriggers(sequelize);
  },
  async down(sequelize) {
    await sequelize.query(`
      DO $$ DECLARE r record; BEGIN
        FOR r IN SELECT tgrelid::regclass AS rel FROM pg_trigger WHERE tgname = 'shardgate_fence' LOOP
          EXECUTE format('DROP TRIGGER shardgate_fence ON %s', r.rel);
        END LOOP;
      END $$;
      DROP FUNCTION public.shardgate_apply_fence_triggers();
      DROP FUNCTION public.shardgate_fence_guard();
      DROP TABLE tenant_fences;
    `);
  },
};
