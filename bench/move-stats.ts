/** Pure arithmetic of the move scenario (bench/move.ts): percentiles, pauses, windows. */

/** One request of a load loop: when it started and ended (performance.now() ms) and how it went. */
export interface Sample {
  readonly start: number;
  readonly end: number;
  /** HTTP status; 0 when no answer came (connection error, timeout) */
  readonly status: number;
  /** the shard of the tenant the request was for (others' load) */
  readonly shard?: string;
}

export interface Window {
  readonly from: number;
  readonly to: number;
}

export const ok = (s: Sample) => s.status >= 200 && s.status < 300;
export const latency = (s: Sample) => s.end - s.start;

/**
 * Nearest-rank percentile (q in 0..1): always a value that was observed. With the handful
 * of moves a run makes, p99 is the largest one; no interpolation pretends otherwise.
 */
export function percentile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

const overlaps = (s: Sample, w: Window) => s.start < w.to && s.end > w.from;
const startsIn = (s: Sample, w: Window) => s.start >= w.from && s.start < w.to;

/**
 * The moving tenant's write pause as its clients saw it: the slowest write that overlapped
 * the move. A write that hits the fence waits in the gateway (fenced retry) until the
 * placement flips, so this is the fence as a client lives it, not as the mover logs it.
 */
export function slowestOverlapping(samples: readonly Sample[], w: Window): number | null {
  const hits = samples.filter((s) => overlaps(s, w));
  return hits.length === 0 ? null : Math.max(...hits.map(latency));
}

/**
 * The longest stretch inside the window in which no write of the tenant completed
 * successfully: with several writers looping, a pause shows here whether the writes
 * waited (slow) or were refused (fast, non-2xx).
 */
export function longestGap(samples: readonly Sample[], w: Window): number {
  const ends = samples.filter(ok).map((s) => s.end).sort((a, b) => a - b);
  let previous = ends.filter((e) => e <= w.from).at(-1) ?? w.from;
  let longest = 0;
  for (const e of ends) {
    if (e <= w.from) continue;
    longest = Math.max(longest, e - previous);
    previous = e;
    // the first completion after the window closes the gap that spans its end
    if (e >= w.to) return longest;
  }
  // nothing succeeded after the window: the tail counts up to its end
  return Math.max(longest, w.to - previous);
}

/** Latencies (ms) of the samples that started in any of the windows and passed `keep`. */
export function latenciesIn(samples: readonly Sample[], windows: readonly Window[], keep: (s: Sample) => boolean = () => true): number[] {
  return samples.filter((s) => keep(s) && windows.some((w) => startsIn(s, w))).map(latency);
}

/** Samples that started in the window. */
export function within(samples: readonly Sample[], w: Window): Sample[] {
  return samples.filter((s) => startsIn(s, w));
}

/** Rounded to `digits` decimals; null stays null. */
export function round(v: number | null | undefined, digits = 1): number | null {
  if (v === null || v === undefined || !Number.isFinite(v)) return null;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
