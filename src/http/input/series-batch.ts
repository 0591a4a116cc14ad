import type { SeriesPoint } from '../../data/series/point-batch.js';
import { ISO_TS, LABEL_NAME, MAX_LABELS, MAX_LABEL_VALUE, MAX_TS_MS, SERIES_BATCH_MAX, SERIES_NAME, seriesIngest } from './series-input.js';
import { parseInput } from './validation.js';

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
