/**
 * The SQL of time series, in one place. Every statement names `tenant_id = $1`; buckets are
 * aligned to the Unix epoch with date_bin; rollups are recomputed from what lies under
 * them (never incremented), so a replaced point leaves them exact.
 */

export const EPOCH = `TIMESTAMPTZ '1970-01-01 00:00:00+00'`;

/** Rollup widths, finest first: their name in the table and their length. */
export const ROLLUP_WIDTHS = [
  { name: '1m', ms: 60_000 },
  { name: '1h', ms: 3_600_000 },
] as const;
export type RollupWidth = (typeof ROLLUP_WIDTHS)[number];

/**
 * One writer at a time per series, label set and hour (what an hour rollup covers), in a
 * fixed order: a rollup recomputed from the points sees them all, and batches of other
 * hours or series run side by side. $1 tenant, then the hours the batch touched (distinct,
 * from the gateway): $2 series[], $3 labels_key[], $4 hour[].
 */
export const LOCK_SERIES_SQL = `SELECT pg_advisory_xact_lock(7303, hashtext($1 || '/' || s || '/' || k || '/' || h::text))
  FROM unnest($2::text[], $3::text[], $4::timestamptz[]) AS u(s, k, h) ORDER BY s, k, h::text`;

/**
 * One statement however many points (PointBatch.upsertBinds): $1 tenant; per point $2 series
 * index, $3 label-set index, $4 ts, $5 value; then what the indexes name: $6 series names,
 * $7 label-set keys, $8 label sets (each parsed once, not once a point).
 */
export const UPSERT_POINTS_SQL = `
  INSERT INTO series_points (tenant_id, series, labels_key, labels, ts, value)
  SELECT $1, ($6::text[])[si], ($7::text[])[li], ($8::jsonb[])[li], t, v
    FROM unnest($2::int[], $3::int[], $4::timestamptz[], $5::float8[]) AS u(si, li, t, v)
  ON CONFLICT (tenant_id, series, labels_key, ts) DO UPDATE SET value = EXCLUDED.value, labels = EXCLUDED.labels`;

const ROLLUP_COLUMNS = 'tenant_id, series, width, bucket, labels_key, labels, count, sum, min, max, first_ts, last_ts, last_value';
const ROLLUP_UPDATE = `ON CONFLICT (tenant_id, series, width, bucket, labels_key) DO UPDATE SET labels = EXCLUDED.labels, count = EXCLUDED.count,
  sum = EXCLUDED.sum, min = EXCLUDED.min, max = EXCLUDED.max, first_ts = EXCLUDED.first_ts, last_ts = EXCLUDED.last_ts, last_value = EXCLUDED.last_value`;

/** the (series, label set, bucket) the batch touched, distinct, from the gateway: $2 series[], $3 labels_key[], $4 bucket[] */
// `upto` is computed here, not in the probe: under row-level security only leakproof
// operators reach the index, and timestamptz + interval is not one (`ts < bucket + 1 min`
// would scan to the partition's end and filter; `ts < upto` is an index bound). OFFSET 0
// keeps the planner from folding the expression back into the probe.
const touched = (width: RollupWidth) =>
  `(SELECT s, k, bucket, bucket + interval '${width.ms} milliseconds' AS upto
      FROM unnest($2::text[], $3::text[], $4::timestamptz[]) AS u(s, k, bucket)
     OFFSET 0) a`;

/**
 * Minute rollups of the buckets a batch touched, from the points under them: $1 tenant,
 * $2 series[], $3 labels_key[], $4 minute[]. One index range scan per bucket (LATERAL, so each
 * probe reaches only the partition of its minute), never a join over the batch's whole span.
 */
export const MINUTE_ROLLUPS_SQL = `
  INSERT INTO series_rollups (${ROLLUP_COLUMNS})
  SELECT $1, a.s, '1m', a.bucket, a.k, x.labels, x.count, x.sum, x.min, x.max, x.first_ts, x.last_ts, x.last_value
    FROM ${touched(ROLLUP_WIDTHS[0])}
    CROSS JOIN LATERAL (
      SELECT (array_agg(p.labels))[1] AS labels, count(*) AS count, sum(p.value) AS sum, min(p.value) AS min, max(p.value) AS max,
             min(p.ts) AS first_ts, max(p.ts) AS last_ts, (array_agg(p.value ORDER BY p.ts DESC))[1] AS last_value
        FROM series_points p
       WHERE p.tenant_id = $1 AND p.series = a.s AND p.labels_key = a.k AND p.ts >= a.bucket AND p.ts < a.upto) x
   WHERE x.count > 0
  ${ROLLUP_UPDATE}`;

/** Hour rollups of the buckets a batch touched, from their minute rollups: $1 tenant, $2 series[], $3 labels_key[], $4 hour[]. */
export const HOUR_ROLLUPS_SQL = `
  INSERT INTO series_rollups (${ROLLUP_COLUMNS})
  SELECT $1, a.s, '1h', a.bucket, a.k, x.labels, x.count, x.sum, x.min, x.max, x.first_ts, x.last_ts, x.last_value
    FROM ${touched(ROLLUP_WIDTHS[1])}
    CROSS JOIN LATERAL (
      SELECT (array_agg(r.labels))[1] AS labels, sum(r.count) AS count, sum(r.sum) AS sum, min(r.min) AS min, max(r.max) AS max,
             min(r.first_ts) AS first_ts, max(r.last_ts) AS last_ts, (array_agg(r.last_value ORDER BY r.last_ts DESC))[1] AS last_value
        FROM series_rollups r
       WHERE r.tenant_id = $1 AND r.series = a.s AND r.width = '1m' AND r.bucket >= a.bucket AND r.bucket < a.upto
         AND r.labels_key = a.k) x
   WHERE x.count > 0
  ${ROLLUP_UPDATE}`;

/**
 * The batch in the audit trail: one row per series it wrote (record id = the series name),
 * not one per point. $1 tenant, $2 id[], $3 series[], $4 summary[] (jsonb), $5 actor.
 */
export const AUDIT_BATCH_SQL = `
  INSERT INTO audit_log (tenant_id, id, table_name, record_id, action, actor, old_values, new_values, created_at)
  SELECT $1, i, 'series_points', s, 'create', $5, NULL, n::jsonb, now() FROM unnest($2::uuid[], $3::text[], $4::text[]) AS u(i, s, n)`;

export const SERIES_AGGREGATES = ['avg', 'min', 'max', 'sum', 'count', 'last', 'p50', 'p95', 'p99'] as const;
export type SeriesAggregate = (typeof SERIES_AGGREGATES)[number];

/** what a rollup row can answer exactly (percentiles need the points) */
export const ROLLUP_AGGREGATES: ReadonlySet<SeriesAggregate> = new Set(['avg', 'min', 'max', 'sum', 'count', 'last']);

const RAW_AGGREGATE: Record<SeriesAggregate, string> = {
  avg: 'avg(value)',
  min: 'min(value)',
  max: 'max(value)',
  sum: 'sum(value)',
  count: 'count(*)::float8',
  last: '(array_agg(value ORDER BY ts DESC))[1]',
  p50: 'percentile_cont(0.5) WITHIN GROUP (ORDER BY value)',
  p95: 'percentile_cont(0.95) WITHIN GROUP (ORDER BY value)',
  p99: 'percentile_cont(0.99) WITHIN GROUP (ORDER BY value)',
};

const ROLLUP_AGGREGATE: Partial<Record<SeriesAggregate, string>> = {
  avg: 'sum(sum) / sum(count)',
  min: 'min(min)',
  max: 'max(max)',
  sum: 'sum(sum)',
  count: 'sum(count)::float8',
  last: '(array_agg(last_value ORDER BY last_ts DESC))[1]',
};

/**
 * One series bucketed: every bucket from $4 (the first bucket's start) while before $5
 * (`to`), `null` where empty. $1 tenant, $2 series, $3 step (an interval), $4 start,
 * $5 to, $6 from, $7 labels filter (jsonb containment; '{}' matches all). From raw points,
 * or from a rollup of `width` when the caller checked it answers exactly.
 */
export function bucketsSql(agg: SeriesAggregate, width: RollupWidth | undefined): string {
  const source =
    width === undefined
      ? `SELECT date_bin($3::interval, ts, ${EPOCH}) AS bucket, ${RAW_AGGREGATE[agg]} AS value
           FROM series_points WHERE tenant_id = $1 AND series = $2 AND ts >= $6 AND ts < $5 AND labels @> $7::jsonb GROUP BY 1`
      : `SELECT date_bin($3::interval, bucket, ${EPOCH}) AS bucket, ${ROLLUP_AGGREGATE[agg]!} AS value
           FROM series_rollups WHERE tenant_id = $1 AND series = $2 AND width = '${width.name}' AND bucket >= $6 AND bucket < $5
            AND labels @> $7::jsonb GROUP BY 1`;
  return `WITH agg AS (${source})
    SELECT b.bucket, agg.value::float8 AS value
      FROM generate_series($4::timestamptz, $5::timestamptz - interval '1 microsecond', $3::interval) AS b(bucket)
      LEFT JOIN agg ON agg.bucket = b.bucket
     ORDER BY b.bucket`;
}

/** The tenant's series, from the hour rollups (one row per series and hour, not per point). */
export const LIST_SERIES_SQL = `
  SELECT series, sum(count)::bigint AS points, min(first_ts) AS first_ts, max(last_ts) AS last_ts
    FROM series_rollups WHERE tenant_id = $1 AND width = '1h'
   GROUP BY series ORDER BY series LIMIT 1000`;
