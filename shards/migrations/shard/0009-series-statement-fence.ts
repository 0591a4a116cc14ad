import type { Migration } from '../migration.js';

const SERIES_TABLES = ['series_points', 'series_rollups'] as const;

/**
 * The move fence of 0003/0004, checked once per statement instead of once per row, for the
 * tables written in batches of thousands of rows (an ingest of 10,000 points spent ~90 ms
 * of its ~260 ms upsert in the row trigger). The same rules: a tenant whose exclusive
 * advisory lock (7301) a move holds, or that has a row in tenant_fences, is refused with
 * SG001; the bypass is honoured for privileged roles only. The tenants come from the
 * statement's transition tables (every row it wrote, once each tenant), so the check
 * covers any writer, not only the request role whose rows row-level security already
 * confines to one tenant. It runs after the statement's rows are written, inside the
 * statement: a refusal rolls them back, and a move's lock still waits for a writer that
 * took the shared lock until that writer's transaction ends.
 *
 * Statement triggers fire on the table the statement names: writes through the parent
 * (the only table the request role is granted) are checked; a privileged role writing a
 * partition directly is not fenced, as it is not under row-level security either.
 */
export const GUARD_SQL = `
  CREATE OR REPLACE FUNCTION public.shardgate_fence_guard_rows() RETURNS trigger LANGUAGE plpgsql AS $fn$
  DECLARE
    tids text[];
    tid text;
  BEGIN
    IF current_setting('shardgate.bypass_fence', true) IS DISTINCT FROM 'on'
       OR NOT (SELECT r.rolsuper OR r.rolbypassrls FROM pg_roles r WHERE r.rolname = current_user) THEN
      -- each branch reads only the transition tables its event has (a statement is planned when first run)
      IF TG_OP = 'INSERT' THEN
        SELECT array_agg(DISTINCT tenant_id) INTO tids FROM fence_new;
      ELSIF TG_OP = 'UPDATE' THEN
        SELECT array_agg(DISTINCT t) INTO tids FROM (SELECT tenant_id FROM fence_new UNION ALL SELECT tenant_id FROM fence_old) x(t);
      ELSE
        SELECT array_agg(DISTINCT tenant_id) INTO tids FROM fence_old;
      END IF;
      FOREACH tid IN ARRAY coalesce(tids, '{}') LOOP
        IF NOT pg_try_advisory_xact_lock_shared(7301, hashtext(tid))
           OR EXISTS (SELECT 1 FROM public.tenant_fences f WHERE f.tenant_id = tid) THEN
          RAISE EXCEPTION USING ERRCODE = 'SG001', MESSAGE = format('tenant %s is fenced: it is moving to another shard', tid),
            HINT = 'refresh the placement and retry';
        END IF;
      END LOOP;
    END IF;
    RETURN NULL;
  END
  $fn$;
`;

/** The row trigger's name stays on the INSERT one: shardgate_apply_fence_triggers() sees the table as covered. */
const statementTriggersSql = (table: string) => `
  DROP TRIGGER IF EXISTS shardgate_fence ON ${table};
  CREATE TRIGGER shardgate_fence AFTER INSERT ON ${table} REFERENCING NEW TABLE AS fence_new
    FOR EACH STATEMENT EXECUTE FUNCTION public.shardgate_fence_guard_rows();
  CREATE TRIGGER shardgate_fence_update AFTER UPDATE ON ${table} REFERENCING OLD TABLE AS fence_old NEW TABLE AS fence_new
    FOR EACH STATEMENT EXECUTE FUNCTION public.shardgate_fence_guard_rows();
  CREATE TRIGGER shardgate_fence_delete AFTER DELETE ON ${table} REFERENCING OLD TABLE AS fence_old
    FOR EACH STATEMENT EXECUTE FUNCTION public.shardgate_fence_guard_rows();
`;

export const shard0009: Migration = {
  name: '0009-series-statement-fence',
  async up(sequelize) {
    await sequelize.query(GUARD_SQL + SERIES_TABLES.map(statementTriggersSql).join(''));
  },
  async down(sequelize) {
    await sequelize.query(
      SERIES_TABLES.map(
        (t) => `DROP TRIGGER shardgate_fence ON ${t}; DROP TRIGGER shardgate_fence_update ON ${t}; DROP TRIGGER shardgate_fence_delete ON ${t};
          CREATE TRIGGER shardgate_fence BEFORE INSERT OR UPDATE OR DELETE ON ${t} FOR EACH ROW EXECUTE FUNCTION public.shardgate_fence_guard();`,
      ).join('') + 'DROP FUNCTION public.shardgate_fence_guard_rows();',
    );
  },
};
