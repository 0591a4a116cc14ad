import { z } from 'zod';
import { SERIES_AGGREGATES } from '../../data/series/series-sql.js';
import type { SeriesPoint } from '../../data/series/point-batch.js';
import { noProtoKeys, parseInput, queryValue, safeString } from './validation.js';

export const SERIES_BATCH_MAX = 10_000;
export const SERIES_NAME = /^[a-z0-9_.:-]{1,100}$/;
export const MAX_LABELS = 16;
export const MAX_LABEL_VALUE = 200;
export const ISO_TS = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?(Z|[+-]\d{2}:?\d{2})?$/;
// years 1970 … 9999: what a timestamptz and an epoch-milliseconds number both carry
export const MAX_TS_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

export const seriesName = z.string({ error: 'must be a string' }).regex(SERIES_NAME, 'must match ^[a-z0-9_.:-]{1,100}$');

/** ISO 8601 text or epoch milliseconds, as a Date. */
const timestamp = z.union(
  [
    z.number().int('must be whole epoch milliseconds').min(0, 'must be at or after 1970').max(MAX_TS_MS, 'must be before the year 10000'),
    z.string().refine((v) => ISO_TS.test(v) && !Number.isNaN(Date.parse(v)) && Date.parse(v) >= 0 && Date.parse(v) <= MAX_TS_MS, 'must be ISO 8601 or epoch milliseconds'),
  ],
  { error: 'must be ISO 8601 or epoch milliseconds' },
).transform((v) => new Date(v));

export const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
// a record drops a `__proto__` key as it copies (it would set the prototype): refused first, so no label is silently lost
const labels = noProtoKeys.pipe(z
  .record(z.string().regex(LABEL_NAME, 'label names must match ^[A-Za-z_][A-Za-z0-9_.-]{0,63}$'), safeString(0, MAX_LABEL_VALUE), { error: 'must be an object of string labels' })
  .refine((l) => Object.keys(l).length <= MAX_LABELS, `must hold at most ${MAX_LABELS} labels`));

const point = z.strictObject({
  series: seriesName,
  ts: timestamp,
  value: z.number({ error: 'must be a finite number' }).refine(Number.isFinite, 'must be a finite number'),
  labels: labels.optional(),
});

export const seriesIngest = z.strictObject({
  points: z
    .array(point, { error: 'must be a list of points {series, ts, value, labels?}' })
    .min(1, 'must hold at least one point')
    .max(SERIES_BATCH_MAX, `must hold at most ${SERIES_BATCH_MAX} points`),
});

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `10s`, `5m`, `1h`, `1d`: 1 s to 1 day. */
const step = queryValue
  .regex(/^[1-9]\d{0,5}[smhd]$/, 'must be a number and a unit: s, m, h or d (e.g. 10s, 5m, 1h)')
  .transform((v) => ({ text: v, ms: Number(v.slice(0, -1)) * UNIT_MS[v.slice(-1) as keyof typeof UNIT_MS] }))
  .refine((s) => s.ms >= 1_000 && s.ms <= 86_400_000, 'must be between 1s and 1d');

const queryTimestamp = queryValue.transform((v, ctx) => {
  const ms = /^\d{1,15}$/.test(v) ? Number(v) : ISO_TS.test(v) ? Date.parse(v) : Number.NaN;
  if (Number.isNaN(ms) || ms < 0 || ms > MAX_TS_MS) {
    ctx.addIssue({ code: 'custom', message: 'must be ISO 8601 or epoch milliseconds' });
    return z.NEVER;
  }
  return new Date(ms);
});

/** `k:v,k2:v2`: the points whose labels include these. */
const labelFilter = queryValue.transform((v, ctx) => {
  const out: Record<string, string> = {};
  for (const pair of v.split(',')) {
    const at = pair.indexOf(':');
    const key = pair.slice(0, at);
    if (at <= 0 || !LABEL_NAME.test(key)) {
      ctx.addIssue({ code: 'custom', message: 'must be name:value pairs separated by commas (e.g. host:a,region:eu)' });
      return z.NEVER;
    }
    out[key] = pair.slice(at + 1);
  }
  return out;
});

export const seriesQuery = z
  .strictObject({
    from: queryTimestamp,
    to: queryTimestamp,
    step: step.default({ text: '1m', ms: 60_000 }),
    agg: queryValue.pipe(z.enum(SERIES_AGGREGATES, { error: `must be one of ${SERIES_AGGREGATES.join(', ')}` })).default('avg'),
    labels: labelFilter.optional(),
  })
  .refine((q) => q.to.getTime() > q.from.getTime(), { path: ['to'], message: 'must be after from' });

const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * A `POST /v1/series` body as points. Up to 10,000 points a request make zod's per-point
 * schema (~10 µs a point) the largest cost of an ingest in the gateway, so a straight-line
 * check runs first; it accepts only what the schema accepts (test/unit/series-batch.test.ts
 * compares the two over valid and hostile points), and anything it does not accept goes to
 * the schema, which stays the one source of the 400 and its field name.
 */
export function parseSeriesBatch(body: unknown): SeriesPoint[] {
  const fast = fastPoints(body);
  if (fast) return fast;
  return parseInput(seriesIngest, body).points.map((p) => ({ series: p.series, ts: p.ts, value: p.value, labels: p.labels ?? NO_LABELS }));
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

function fastPoints(body: unknown): SeriesPoint[] | undefined {
  if (!isPlainObject(body)) return undefined;
  let keys = 0;
  for (const key in body) {
    if (key !== 'points') return undefined;
    keys += 1;
  }
  const points = body.points;
  if (keys !== 1 || !Array.isArray(points) || points.length < 1 || points.length > SERIES_BATCH_MAX) return undefined;
  const out = new Array<SeriesPoint>(points.length);
  for (let i = 0; i < points.length; i++) {
    const point = fastPoint(points[i]);
    if (!point) return undefined;
    out[i] = point;
  }
  return out;
}

function fastPoint(p: unknown): SeriesPoint | undefined {
  if (!isPlainObject(p)) return undefined;
  for (const key in p) {
    if (key !== 'series' && key !== 'ts' && key !== 'value' && key !== 'labels') return undefined;
  }
  const { series, ts, value, labels } = p;
  if (typeof series !== 'string' || !SERIES_NAME.test(series)) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
  let ms: number;
  if (typeof ts === 'number') {
    if (!Number.isInteger(ts) || ts < 0 || ts > MAX_TS_MS) return undefined;
    ms = ts;
  } else if (typeof ts === 'string') {
    if (!ISO_TS.test(ts)) return undefined;
    ms = Date.parse(ts);
    if (!(ms >= 0 && ms <= MAX_TS_MS)) return undefined;
  } else {
    return undefined;
  }
  if (labels === undefined) return { series, ts: new Date(ms), value, labels: NO_LABELS };
  if (!fastLabels(labels)) return undefined;
  return { series, ts: new Date(ms), value, labels };
}

function fastLabels(labels: unknown): labels is Record<string, string> {
  if (!isPlainObject(labels)) return false;
  let n = 0;
  for (const name in labels) {
    n += 1;
    if (n > MAX_LABELS || !LABEL_NAME.test(name) || name === '__proto__') return false;
    const v = labels[name];
    if (typeof v !== 'string' || v.length > MAX_LABEL_VALUE || v.includes('\u0000') || !v.isWellFormed()) return false;
  }
  return true;
}
