import type { Migration, MigrationDb } from '../migration.js';
import { applyFenceTriggers } from './0003-move-fence.js';
import { tenantPolicySql } from './0004-row-level-security.js';

/**
 * `shardgate_series_partitions(from_day, to_day, keep_from)`: the day partitions of
 * series_points from `from_day` to `to_day` (inclusive) exist afterwards, and those wholly
 * before `keep_from` are dropped (a drop is a catalog change, not a DELETE: retention costs
 * no vacuum). Run by the gateway's partition keeper ahead of time and before a shard takes
 * a tenant, under an advisory lock so pods do not race one another. Partitions attach
 * with no scan (they are created empty), and carry the parent's indexes, policies and
 * triggers.
 */
const PARTITIONS_SQL = `
  CREATE OR REPLACE FUNCTION public.shardgate_series_partitions(from_day date, to_day date, keep_from date)
  RETURNS integer LANGUAGE plpgsql AS $fn$
  DECLARE
    d date;
    r record;
    n integer := 0;
    prior text;
  BEGIN
    PERFORM pg_advisory_xact_lock(7302, 1);
    d := from_day;
    WHILE d <= to_day LOOP
      IF to_regclass(format('public.series_points_p%s', to_char(d, 'YYYYMMDD'))) IS NULL THEN
        EXECUTE format('CREATE TABLE public.%I PARTITION OF public.series_points FOR VALUES FROM (%L) TO (%L)',
          'series_points_p' || to_char(d, 'YYYYMMDD'), d::timestamp AT TIME ZONE 'UTC', (d + 1)::timestamp AT TIME ZONE 'UTC');
        n := n + 1;
      END IF;
      d := d + 1;
    END LOOP;
    FOR r IN
      SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = 'public.series_points'::regclass AND c.relname ~ '^series_points_p[0-9]{8}$'
         AND to_date(substr(c.relname, 16), 'YYYYMMDD') < keep_from
    LOOP
      EXECUTE format('DROP TABLE public.%I', r.relname);
    END LOOP;
    -- past a move's fence too (this is no tenant's write); honoured for privileged roles only
    prior := current_setting('shardgate.bypass_fence', true);
    PERFORM set_config('shardgate.bypass_fence', 'on', true);
    DELETE FROM public.series_rollups WHERE bucket < keep_from::timestamp AT TIME ZONE 'UTC';
    PERFORM set_config('shardgate.bypass_fence', coalesce(prior, ''), true);
    RETURN n;
  END
  $fn$;
`;

/** The partitions a shard keeps: `shardgate_series_partitions` over the window. */
export async function ensureSeriesPartitions(sequelize: MigrationDb, retentionDays: number, aheadDays: number): Promise<number> {
  const [rows] = await sequelize.query(
    `SELECT public.shardgate_series_partitions((now() AT TIME ZONE 'UTC')::date - $1::int, (now() AT TIME ZONE 'UTC')::date + $2::int,
                                               (now() AT TIME ZONE 'UTC')::date - $1::int) AS created`,
    { bind: [retentionDays, aheadDays] },
  );
  return Number((rows as Array<{ created: number }>)[0]?.created ?? 0);
}

/**
 * Time series: raw points in a table range-partitioned by day (a point is unique per
 * tenant, series, label set and ts, so a re-posted batch replaces rather than doubles),
 * and per-minute and per-hour rollups kept current by the ingest in its own transaction,
 * so a long range reads one row per hour instead of every point. The primary key leads
 * with tenant and series and ends with ts: a series' range is one index range per
 * partition, and old days go as whole partitions. Row-level security and the fence cover
 * both tables (partitions inherit them; the request role is granted the parent only).
 */
export const shard0008: Migration = {
  name: '0008-series',
  async up(sequelize) {
    await sequelize.query(`
      CREATE TABLE series_points (
        tenant_id   text NOT NULL,
        series      text NOT NULL,
        labels_key  text NOT NULL,
        labels      jsonb NOT NULL DEFAULT '{}'::jsonb,
        ts          timestamptz NOT NULL,
        value       double precision NOT NULL,
        PRIMARY KEY (tenant_id, series, labels_key, ts)
      ) PARTITION BY RANGE (ts);
      CREATE INDEX series_points_tenant_series_ts ON series_points (tenant_id, series, ts);
      ALTER TABLE series_points ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
      ${tenantPolicySql('series_points')}

      CREATE TABLE series_rollups (
        tenant_id   text NOT NULL,
        series      text NOT NULL,
        width       text NOT NULL CHECK (width IN ('1m', '1h')),
        bucket      timestamptz NOT NULL,
        labels_key  text NOT NULL,
        labels      jsonb NOT NULL DEFAULT '{}'::jsonb,
        count       bigint NOT NULL,
        sum         double precision NOT NULL,
        min         double precision NOT NULL,
        max         double precision NOT NULL,
        first_ts    timestamptz NOT NULL,
        last_ts     timestamptz NOT NULL,
        last_value  double precision NOT NULL,
        PRIMARY KEY (tenant_id, series, width, bucket, labels_key)
      );
      ALTER TABLE series_rollups ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
      ${tenantPolicySql('series_rollups')}
      ${PARTITIONS_SQL}
    `);
    await applyFenceTriggers(sequelize);
    // the days around now; the gateway's keeper extends the window to the configured retention
    await ensureSeriesPartitions(sequelize, 2, 3);
  },
  async down(sequelize) {
    await sequelize.query('DROP TABLE series_points, series_rollups; DROP FUNCTION public.shardgate_series_partitions(date, date, date);');
  },
};
