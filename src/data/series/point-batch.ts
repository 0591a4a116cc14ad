import { ValidationError } from '../../errors/errors.js';
import { ROLLUP_WIDTHS } from './series-sql.js';

export interface SeriesPoint {
  readonly series: string;
  readonly ts: Date;
  readonly value: number;
  readonly labels: Readonly<Record<string, string>>;
}

/** The canonical text of a label set: the same labels, in any order, are the same series. */
export function labelsKey(labels: Readonly<Record<string, string>>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Values the batch names again and again (series, label sets), each once, with its 1-based index for SQL. */
class Interned {
  readonly #index = new Map<string, number>();
  readonly values: string[] = [];

  of(value: string): number {
    let i = this.#index.get(value);
    if (i === undefined) {
      i = this.values.push(value);
      this.#index.set(value, i);
    }
    return i;
  }
}

/** The distinct (series, label set, bucket start) of a batch, as the arrays a statement binds. */
class Touched {
  readonly #seen = new Set<string>();
  readonly series: string[] = [];
  readonly keys: string[] = [];
  readonly buckets: string[] = [];

  add(series: string, key: string, id: string, bucketMs: number): void {
    const at = `${id}/${bucketMs}`;
    if (this.#seen.has(at)) return;
    this.#seen.add(at);
    this.series.push(series);
    this.keys.push(key);
    this.buckets.push(new Date(bucketMs).toISOString());
  }

  binds(): [string[], string[], string[]] {
    return [this.series, this.keys, this.buckets];
  }
}

interface SeriesWritten {
  points: number;
  firstTs: number;
  lastTs: number;
  readonly labelSets: Set<number>;
}

/**
 * One ingest's points as the statements bind them. A batch of 10,000 points names a few
 * series and label sets thousands of times, so those travel once each (`names`, `keys`,
 * `labels`) and a point carries their indexes; the per-point arrays are numbers and ISO
 * timestamps, written as array literals directly (none needs quoting: pg's general array
 * encoder escaped each of 60,000 elements with a regular expression, ~20 ms a batch).
 * Later points of the same series, label set and ts replace earlier ones (one statement
 * may not touch a row twice).
 */
export class PointBatch {
  readonly #names = new Interned();
  readonly #keys = new Interned();
  readonly #labels: string[] = [];
  readonly #rows = new Map<string, number>();
  readonly #seriesOf: number[] = [];
  readonly #keyOf: number[] = [];
  readonly #ts: number[] = [];
  readonly #values: number[] = [];
  readonly #written = new Map<number, SeriesWritten>();
  /** minute and hour buckets the batch touched: the rollups to recompute, and what to lock */
  readonly minutes = new Touched();
  readonly hours = new Touched();

  /** Points older than `oldestMs` or newer than `newestMs` are a 400 naming the point. */
  constructor(points: readonly SeriesPoint[], oldestMs: number, newestMs: number, retentionDays: number) {
    points.forEach((point, i) => {
      const t = point.ts.getTime();
      if (t < oldestMs) throw new ValidationError(`points[${i}].ts`, `points[${i}].ts is older than the retention window (${retentionDays} days)`);
      if (t > newestMs) throw new ValidationError(`points[${i}].ts`, `points[${i}].ts is too far in the future`);
      const s = this.#names.of(point.series);
      const key = labelsKey(point.labels);
      const k = this.#keys.of(key);
      if (k > this.#labels.length) this.#labels.push(JSON.stringify(point.labels));
      const id = `${s}/${k}`;
      const at = `${id}/${t}`;
      const row = this.#rows.get(at);
      if (row !== undefined) {
        this.#values[row] = point.value;
        return;
      }
      this.#rows.set(at, this.#ts.length);
      this.#seriesOf.push(s);
      this.#keyOf.push(k);
      this.#ts.push(t);
      this.#values.push(point.value);
      this.#wrote(s, k, t);
      this.minutes.add(point.series, key, id, t - (t % ROLLUP_WIDTHS[0].ms));
      this.hours.add(point.series, key, id, t - (t % ROLLUP_WIDTHS[1].ms));
    });
  }

  /** `UPSERT_POINTS_SQL`'s binds after the tenant: per point series index, label-set index, ts, value; then the names, keys and labels they index. */
  upsertBinds(): [string, string, string, string, string[], string[], string[]] {
    return [
      `{${this.#seriesOf.join(',')}}`,
      `{${this.#keyOf.join(',')}}`,
      `{${this.#ts.map((t) => new Date(t).toISOString()).join(',')}}`,
      // finite numbers only (validated), whose String() PostgreSQL's float8 input reads back exactly
      `{${this.#values.join(',')}}`,
      this.#names.values,
      this.#keys.values,
      this.#labels,
    ];
  }

  /** One line per series for the audit trail: how many points, label sets, and their span. */
  auditSummaries(): Array<{ series: string; summary: string }> {
    return [...this.#written].map(([s, w]) => ({
      series: this.#names.values[s - 1]!,
      summary: JSON.stringify({ points: w.points, labelSets: w.labelSets.size, firstTs: new Date(w.firstTs).toISOString(), lastTs: new Date(w.lastTs).toISOString() }),
    }));
  }

  #wrote(s: number, k: number, t: number): void {
    const w = this.#written.get(s);
    if (w === undefined) {
      this.#written.set(s, { points: 1, firstTs: t, lastTs: t, labelSets: new Set([k]) });
      return;
    }
    w.points += 1;
    if (t < w.firstTs) w.firstTs = t;
    if (t > w.lastTs) w.lastTs = t;
    w.labelSets.add(k);
  }
}
