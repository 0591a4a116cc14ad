import { QueryTypes } from 'sequelize';
import { ValidationError } from '../../errors/errors.js';
import { uuidv7 } from '../../models/index.js';
import type { TenantSession } from '../tenant-session.js';
import {
  AUDIT_BATCH_SQL, HOUR_ROLLUPS_SQL, LIST_SERIES_SQL, LOCK_SERIES_SQL, MINUTE_ROLLUPS_SQL, ROLLUP_AGGREGATES, ROLLUP_WIDTHS, UPSERT_POINTS_SQL, bucketsSql,
  type RollupWidth, type SeriesAggregate,
} from './series-sql.js';
import { PointBatch, type SeriesPoint } from './point-batch.js';

export interface SeriesQuery {
  readonly series: string;
  readonly from: Date;
  readonly to: Date;
  readonly stepMs: number;
  /** the step as the client wrote it (`5m`), echoed back */
  readonly step: string;
  readonly agg: SeriesAggregate;
  readonly labels: Readonly<Record<string, string>>;
}

export interface SeriesBuckets {
  readonly series: string;
  readonly step: string;
  readonly agg: SeriesAggregate;
  readonly points: Array<{ ts: string; value: number | null }>;
}

export interface SeriesSummary {
  readonly series: string;
  readonly points: number;
  readonly firstTs: string;
  readonly lastTs: string;
}

export interface SeriesLimits {
  readonly retentionDays: number;
  /** points are accepted up to this far ahead of now (the partitions kept ready cover it) */
  readonly aheadMs: number;
  /** most buckets one query may ask for */
  readonly maxBuckets: number;
}

const DAY_MS = 86_400_000;

/**
 * A tenant's time series: points in a day-partitioned table, minute and hour rollups kept
 * current by the ingest (same transaction), buckets aligned to the epoch and gap-filled.
 * A query whose step and range are whole rollup buckets, for an aggregate a rollup answers
 * exactly, reads the coarsest such rollup: a 30-day hourly query reads 720 rows a label set,
 * not every point. Percentiles read the points.
 */
export class SeriesRepository {
  constructor(private readonly limits: SeriesLimits) {}

  /** Up to the batch limit in one transaction: one upsert statement, then the rollups it touched. */
  async ingest(session: TenantSession, points: readonly SeriesPoint[], now = Date.now()): Promise<{ accepted: number }> {
    const { retentionDays, aheadMs } = this.limits;
    const batch = new PointBatch(points, now - retentionDays * DAY_MS, now + aheadMs, retentionDays);
    const audit = batch.auditSummaries();
    await session.transaction(async (transaction, node) => {
      const run = (sql: string, values: unknown[]) => node.sequelize.query(sql, { bind: values, transaction, type: QueryTypes.RAW });
      await run(LOCK_SERIES_SQL, [session.tenantId, ...batch.hours.binds()]);
      await run(UPSERT_POINTS_SQL, [session.tenantId, ...batch.upsertBinds()]);
      await run(MINUTE_ROLLUPS_SQL, [session.tenantId, ...batch.minutes.binds()]);
      await run(HOUR_ROLLUPS_SQL, [session.tenantId, ...batch.hours.binds()]);
      await run(AUDIT_BATCH_SQL, [session.tenantId, audit.map(() => uuidv7()), audit.map((a) => a.series), audit.map((a) => a.summary), session.actor]);
    });
    return { accepted: points.length };
  }

  async query(session: TenantSession, q: SeriesQuery): Promise<SeriesBuckets> {
    const start = Math.floor(q.from.getTime() / q.stepMs) * q.stepMs;
    const buckets = Math.ceil((q.to.getTime() - start) / q.stepMs);
    if (buckets > this.limits.maxBuckets) {
      throw new ValidationError('step', `step: ${buckets} buckets from from to to; at most ${this.limits.maxBuckets} (choose a longer step or a shorter range)`);
    }
    const width = this.#rollupFor(q);
    const rows = await session.read((node) =>
      node.query<{ bucket: Date; value: number | null }>(bucketsSql(q.agg, width), [
        session.tenantId,
        q.series,
        `${q.stepMs} milliseconds`,
        new Date(start).toISOString(),
        q.to.toISOString(),
        q.from.toISOString(),
        JSON.stringify(q.labels),
      ]),
    );
    return {
      series: q.series,
      step: q.step,
      agg: q.agg,
      points: rows.map((r) => ({ ts: new Date(r.bucket).toISOString(), value: r.value === null ? null : Number(r.value) })),
    };
  }

  async list(session: TenantSession): Promise<{ items: SeriesSummary[] }> {
    const rows = await session.read((node) =>
      node.query<{ series: string; points: string; first_ts: Date; last_ts: Date }>(LIST_SERIES_SQL, [session.tenantId]),
    );
    return {
      items: rows.map((r) => ({ series: r.series, points: Number(r.points), firstTs: new Date(r.first_ts).toISOString(), lastTs: new Date(r.last_ts).toISOString() })),
    };
  }

  /** The coarsest rollup whose buckets tile the query exactly, if its aggregate allows one. */
  #rollupFor(q: SeriesQuery): RollupWidth | undefined {
    if (!ROLLUP_AGGREGATES.has(q.agg)) return undefined;
    const whole = (w: RollupWidth) => q.stepMs % w.ms === 0 && q.from.getTime() % w.ms === 0 && q.to.getTime() % w.ms === 0;
    return [...ROLLUP_WIDTHS].reverse().find(whole);
  }
}
