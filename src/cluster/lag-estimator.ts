import type { Lsn } from './lsn.js';

interface Sample {
  readonly at: number;
  readonly lsn: Lsn;
}

/**
 * Turns WAL positions into time lag. The primary's LSN is sampled on every health round;
 * a replica that has replayed up to L is as far behind as the oldest sample whose LSN
 * is past L is old. Unlike `now() - pg_last_xact_replay_timestamp()` this does not read
 * an idle-but-current replica as hours behind.
 */
export class LagEstimator {
  readonly #samples: Sample[] = [];

  constructor(private readonly windowMs: number = 60_000) {}

  record(lsn: Lsn, at: number): void {
    const last = this.#samples.at(-1);
    if (last !== undefined && last.lsn === lsn) return; // only keep points where WAL moved
    this.#samples.push({ at, lsn });
    const cutoff = at - this.windowMs;
    while (this.#samples.length > 2 && this.#samples[1]!.at < cutoff) this.#samples.shift();
  }

  latest(): Lsn | undefined {
    return this.#samples.at(-1)?.lsn;
  }

  lagMs(replayed: Lsn, now: number): number {
    const latest = this.latest();
    if (latest === undefined || replayed >= latest) return 0;
    const firstAhead = this.#samples.find((s) => s.lsn > replayed);
    return firstAhead === undefined ? 0 : Math.max(0, now - firstAhead.at);
  }

  lagBytes(replayed: Lsn): number {
    const latest = this.latest();
    if (latest === undefined || replayed >= latest) return 0;
    return Number(latest - replayed);
  }
}
