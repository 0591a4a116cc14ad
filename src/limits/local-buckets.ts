import { msUntilFull, refund, take, type BucketLimits, type BucketState, type TakeResult } from './token-bucket.js';

export interface LocalBucketsOptions {
  /** how often (at most) a take also drops buckets that have refilled completely */
  readonly sweepIntervalMs?: number;
  /** monotonic ms clock */
  readonly now?: () => number;
  /**
   * The most buckets kept (keys from clients, such as addresses, must be bounded): past it a
   * sweep runs, then the least recently used buckets go (they come back full).
   */
  readonly maxKeys?: number;
}

/**
 * Token buckets in this process, one per key: the rate limiter's fallback while Redis is
 * unreachable, and its only store when no Redis is configured. A bucket that has refilled
 * to full is indistinguishable from a new one, so sweeps drop those: idle tenants leave nothing.
 */
export class LocalBuckets {
  readonly #buckets = new Map<string, { state: BucketState; limits: BucketLimits }>();
  readonly #now: () => number;
  readonly #sweepIntervalMs: number;
  readonly #maxKeys: number;
  #lastSweep: number;

  constructor(options: LocalBucketsOptions = {}) {
    this.#now = options.now ?? (() => performance.now());
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 10_000;
    this.#maxKeys = options.maxKeys ?? Infinity;
    this.#lastSweep = this.#now();
  }

  take(key: string, limits: BucketLimits, cost = 1): TakeResult {
    const now = this.#now();
    if (now - this.#lastSweep >= this.#sweepIntervalMs) this.sweep(now);
    const { state, result } = take(this.#buckets.get(key)?.state, limits, now, cost);
    // delete, then set: the Map's order is the order of last use
    this.#buckets.delete(key);
    this.#buckets.set(key, { state, limits });
    if (this.#buckets.size > this.#maxKeys) {
      this.sweep(now);
      for (const oldest of this.#buckets.keys()) {
        if (this.#buckets.size <= this.#maxKeys) break;
        this.#buckets.delete(oldest);
      }
    }
    return result;
  }

  /** Gives back tokens taken for something that turned out not to count; a forgotten bucket stays forgotten (it is full). */
  refund(key: string, limits: BucketLimits, tokens = 1): void {
    const entry = this.#buckets.get(key);
    if (entry === undefined) return;
    this.#buckets.set(key, { state: refund(entry.state, limits, this.#now(), tokens), limits });
  }

  /** Drops every bucket that is full again by `now`. */
  sweep(now = this.#now()): void {
    this.#lastSweep = now;
    for (const [key, { state, limits }] of this.#buckets) {
      if (now - state.at >= msUntilFull(state, limits)) this.#buckets.delete(key);
    }
  }

  get size(): number {
    return this.#buckets.size;
  }
}
