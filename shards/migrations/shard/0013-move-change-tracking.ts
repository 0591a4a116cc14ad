import type { Migration } from '../migration.js';
import { REQUEST_ROLE, RLS_SQL } from './0004-row-level-security.js';
import { GUARD_SQL } from './0009-series-statement-fence.js';

/**
 * Maintained digests for tenant moves (issue 19): a move verifies its copy by checksums on
 * a snapshot before the fence, and inside the fence only adds what changed since — so the
 * tenant's write pause does not grow with its size.
 *
 * A move puts the tenant in `move_tracking` on both of its shards (after the initial copy,
 * before the subscription starts). From then on every write of the tenant's rows adds, in
 * the writer's own transaction, a row to `move_row_deltas`: +1 row and +hash(new) for what
 * it wrote, −1 and −hash(old) for what it replaced or deleted, stamped with the writer's
 * transaction id. A table's checksum is the sum of its rows' hashes, so the checksum now is
 * the checksum at the snapshot plus the deltas of the transactions that snapshot did not
 * see (`pg_visible_in_snapshot`). A row's hash is the first 60 bits of the md5 of its
 * jsonb form less generated columns (a BEFORE trigger sees them unset): key order is the
 * jsonb's own, so column order cannot differ between shards.
 *
 * Who writes deltas:
 * - the fence guards (0003/0004 row, 0009 statement), which already look the tenant up on
 *   every write: the same statement looks it up in `move_tracking`. Tracking does not
 *   honour the fence bypass: a privileged write is a change like any other.
 * - on the target, the subscription's apply worker, which fires no ordinary trigger
 *   (`session_replication_role = replica`): a row trigger `shardgate_track` enabled
 *   REPLICA on every tenant table fires there, and nowhere else, so it costs other
 *   writes nothing. Partitions inherit it (and its REPLICA state) from their parent.
 *
 * Neither table is a tenant table (no `tenant_id` column). Row-level security on both:
 * every session reads `move_tracking` (the guards run as the writer) and writes none; the
 * request role may only add deltas of the tenant its session named, and reads none.
 */
const TRACKING_SQL = `
  CREATE TABLE move_tracking (
    tracked_tenant text PRIMARY KEY,
    move_id        text NOT NULL,
    started_at     timestamptz NOT NULL DEFAULT now()
  );
  ALTER TABLE move_tracking ENABLE ROW LEVEL SECURITY;
  CREATE POLICY tracking_readable ON move_tracking FOR SELECT USING (true);
  GRANT SELECT ON move_tracking TO ${REQUEST_ROLE};

  CREATE TABLE move_row_deltas (
    tracked_tenant text NOT NULL,
    tbl            text NOT NULL,
    rows           integer NOT NULL,
    sum            numeric NOT NULL,
    xid            xid8 NOT NULL DEFAULT pg_current_xact_id()
  );
  ALTER TABLE move_row_deltas ENABLE ROW LEVEL SECURITY;
  CREATE POLICY deltas_of_own_tenant ON move_row_deltas FOR INSERT TO ${REQUEST_ROLE}
    WITH CHECK (tracked_tenant = (SELECT current_setting('shardgate.tenant_id', true)));
  GRANT INSERT ON move_row_deltas TO ${REQUEST_ROLE};
  CREATE INDEX move_row_deltas_tenant ON move_row_deltas (tracked_tenant, tbl);

  -- the checksum's per-row hash; the mover's digest SQL calls it too (one definition)
  CREATE OR REPLACE FUNCTION public.shardgate_row_hash(r jsonb) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT ('x' || substr(md5(r::text), 1, 15))::bit(60)::bigint $$;

  CREATE OR REPLACE FUNCTION public.shardgate_generated_columns(rel oid) RETURNS text[]
    LANGUAGE sql STABLE
    AS $$ SELECT coalesce(array_agg(attname::text), '{}') FROM pg_attribute
           WHERE attrelid = rel AND attnum > 0 AND NOT attisdropped AND attgenerated <> '' $$;

  -- one written row's delta; the table is named by its partition root (what a move lists)
  CREATE OR REPLACE FUNCTION public.shardgate_track_row(rel oid, tid text, old_row jsonb, new_row jsonb) RETURNS void
    LANGUAGE plpgsql AS $fn$
  DECLARE
    gens text[] := public.shardgate_generated_columns(rel);
  BEGIN
    INSERT INTO public.move_row_deltas (tracked_tenant, tbl, rows, sum)
    SELECT tid, c.relname::text,
           (new_row IS NOT NULL)::int - (old_row IS NOT NULL)::int,
           coalesce(public.shardgate_row_hash(new_row - gens), 0)::numeric - coalesce(public.shardgate_row_hash(old_row - gens), 0)::numeric
      FROM pg_class c WHERE c.oid = coalesce(pg_partition_root(rel), rel);
  END
  $fn$;

  -- the row guard of 0004, now also the source's tracker
  CREATE OR REPLACE FUNCTION public.shardgate_fence_guard() RETURNS trigger LANGUAGE plpgsql AS $fn$
  DECLARE
    tid text;
    old_tid text;
    fenced boolean;
    tracked boolean;
  BEGIN
    IF TG_OP = 'DELETE' THEN tid := OLD.tenant_id; ELSE tid := NEW.tenant_id; END IF;
    SELECT EXISTS (SELECT 1 FROM public.tenant_fences f WHERE f.tenant_id = tid),
           EXISTS (SELECT 1 FROM public.move_tracking m WHERE m.tracked_tenant = tid)
      INTO fenced, tracked;
    -- the bypass is the mover's (cleanup of a source), honoured only for a privileged role
    IF current_setting('shardgate.bypass_fence', true) IS DISTINCT FROM 'on'
       OR NOT (SELECT r.rolsuper OR r.rolbypassrls FROM pg_roles r WHERE r.rolname = current_user) THEN
      IF NOT pg_try_advisory_xact_lock_shared(7301, hashtext(tid)) OR fenced THEN
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
    IF TG_OP = 'UPDATE' AND OLD.tenant_id IS DISTINCT FROM tid THEN
      -- a row changing tenants leaves one tenant's digest and enters the other's
      IF EXISTS (SELECT 1 FROM public.move_tracking m WHERE m.tracked_tenant = OLD.tenant_id) THEN
        PERFORM public.shardgate_track_row(TG_RELID, OLD.tenant_id, to_jsonb(OLD), NULL);
      END IF;
      IF tracked THEN PERFORM public.shardgate_track_row(TG_RELID, tid, NULL, to_jsonb(NEW)); END IF;
    ELSIF tracked THEN
      PERFORM public.shardgate_track_row(TG_RELID, tid,
        CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE to_jsonb(OLD) END,
        CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE to_jsonb(NEW) END);
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
  END
  $fn$;

  -- the statement guard of 0009 (series tables), now also their tracker: one delta row per
  -- tracked tenant and statement, summed over its transition tables
  CREATE OR REPLACE FUNCTION public.shardgate_fence_guard_rows() RETURNS trigger LANGUAGE plpgsql AS $fn$
  DECLARE
    tids text[];
    tid text;
    gens text[];
  BEGIN
    -- each branch reads only the transition tables its event has (a statement is planned when first run)
    IF TG_OP = 'INSERT' THEN
      SELECT array_agg(DISTINCT tenant_id) INTO tids FROM fence_new;
    ELSIF TG_OP = 'UPDATE' THEN
      SELECT array_agg(DISTINCT t) INTO tids FROM (SELECT tenant_id FROM fence_new UNION ALL SELECT tenant_id FROM fence_old) x(t);
    ELSE
      SELECT array_agg(DISTINCT tenant_id) INTO tids FROM fence_old;
    END IF;
    IF current_setting('shardgate.bypass_fence', true) IS DISTINCT FROM 'on'
       OR NOT (SELECT r.rolsuper OR r.rolbypassrls FROM pg_roles r WHERE r.rolname = current_user) THEN
      FOREACH tid IN ARRAY coalesce(tids, '{}') LOOP
        IF NOT pg_try_advisory_xact_lock_shared(7301, hashtext(tid))
           OR EXISTS (SELECT 1 FROM public.tenant_fences f WHERE f.tenant_id = tid) THEN
          RAISE EXCEPTION USING ERRCODE = 'SG001', MESSAGE = format('tenant %s is fenced: it is moving to another shard', tid),
            HINT = 'refresh the placement and retry';
        END IF;
      END LOOP;
    END IF;
    SELECT array_agg(m.tracked_tenant) INTO tids FROM public.move_tracking m WHERE m.tracked_tenant = ANY (tids);
    IF tids IS NOT NULL THEN
      gens := public.shardgate_generated_columns(TG_RELID);
      IF TG_OP = 'INSERT' THEN
        INSERT INTO public.move_row_deltas (tracked_tenant, tbl, rows, sum)
        SELECT n.tenant_id, TG_TABLE_NAME, count(*), sum(public.shardgate_row_hash(to_jsonb(n) - gens))
          FROM fence_new n WHERE n.tenant_id = ANY (tids) GROUP BY n.tenant_id;
      ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO public.move_row_deltas (tracked_tenant, tbl, rows, sum)
        SELECT d.t, TG_TABLE_NAME, sum(d.n), sum(d.h)
          FROM (SELECT n.tenant_id, 1, public.shardgate_row_hash(to_jsonb(n) - gens)::numeric FROM fence_new n
                UNION ALL
                SELECT o.tenant_id, -1, -public.shardgate_row_hash(to_jsonb(o) - gens)::numeric FROM fence_old o) d(t, n, h)
         WHERE d.t = ANY (tids) GROUP BY d.t;
      ELSE
        INSERT INTO public.move_row_deltas (tracked_tenant, tbl, rows, sum)
        SELECT o.tenant_id, TG_TABLE_NAME, -count(*), -sum(public.shardgate_row_hash(to_jsonb(o) - gens))
          FROM fence_old o WHERE o.tenant_id = ANY (tids) GROUP BY o.tenant_id;
      END IF;
    END IF;
    RETURN NULL;
  END
  $fn$;

  -- the target's tracker: fires only in the apply worker (and other replica-role sessions)
  CREATE OR REPLACE FUNCTION public.shardgate_track_applied() RETURNS trigger LANGUAGE plpgsql AS $fn$
  DECLARE
    tid text;
  BEGIN
    IF TG_OP = 'DELETE' THEN tid := OLD.tenant_id; ELSE tid := NEW.tenant_id; END IF;
    IF EXISTS (SELECT 1 FROM public.move_tracking m WHERE m.tracked_tenant = tid) THEN
      PERFORM public.shardgate_track_row(TG_RELID, tid,
        CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE to_jsonb(OLD) END,
        CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE to_jsonb(NEW) END);
    END IF;
    RETURN NULL;
  END
  $fn$;

  -- 0003's function, now also putting the replica tracker on every tenant table
  CREATE OR REPLACE FUNCTION public.shardgate_apply_fence_triggers() RETURNS integer LANGUAGE plpgsql AS $fn$
  DECLARE
    r record;
    n integer := 0;
  BEGIN
    FOR r IN
      SELECT c.oid AS oid, c.oid::regclass AS rel
        FROM pg_class c
        JOIN pg_namespace ns ON ns.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
       WHERE ns.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
         AND c.relname <> 'tenant_fences'
    LOOP
      IF NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = r.oid AND t.tgname = 'shardgate_fence') THEN
        EXECUTE format('CREATE TRIGGER shardgate_fence BEFORE INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION public.shardgate_fence_guard()', r.rel);
        n := n + 1;
      END IF;
      IF NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = r.oid AND t.tgname = 'shardgate_track') THEN
        EXECUTE format('CREATE TRIGGER shardgate_track AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION public.shardgate_track_applied()', r.rel);
        EXECUTE format('ALTER TABLE %s ENABLE REPLICA TRIGGER shardgate_track', r.rel);
        n := n + 1;
      END IF;
    END LOOP;
    RETURN n;
  END
  $fn$;
`;

export const shard0013: Migration = {
  name: '0013-move-change-tracking',
  async up(sequelize) {
    await sequelize.query(TRACKING_SQL);
    await sequelize.query('SELECT public.shardgate_apply_fence_triggers()');
  },
  async down(sequelize) {
    await sequelize.query(`
      DO $$ DECLARE r record; BEGIN
        FOR r IN SELECT tgrelid::regclass AS rel FROM pg_trigger WHERE tgname = 'shardgate_track' AND tgparentid = 0 LOOP
          EXECUTE format('DROP TRIGGER shardgate_track ON %s', r.rel);
        END LOOP;
      END $$;
      DROP FUNCTION public.shardgate_track_applied();
    `);
    // the guards as they were, before the tables they now read go
    await sequelize.query(RLS_SQL + GUARD_SQL);
    await sequelize.query(`
      DROP FUNCTION public.shardgate_track_row(oid, text, jsonb, jsonb);
      DROP TABLE move_row_deltas;
      DROP TABLE move_tracking;
    `);
  },
};
