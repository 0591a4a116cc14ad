export interface TokenLeasesOptions {
  /** how long leased tokens stay spendable */
  readonly ttlMs: number;
  /** how often (at most) a store also drops expired leases of keys that went quiet */
  readonly sweepIntervalMs?: number;
}

interface Lease {
  tokens: number;
  readonly expiresAt: number;
  /** whole tokens the shared bucket had left when it granted this lease */
  readonly bucketRemaining: number;
}

/**
 * Tokens this process has taken from a shared bucket ahead of use, per key, spent here
 * without a round trip. Leased tokens expire: spent long after they were taken, they
 * would come on top of what the bucket has refilled since, and so exceed the rate.
 * A key has at most one refill in flight; concurrent requests share it.
 */
export class TokenLeases<R> {
  readonly #leases = new Map<string, Lease>();
  readonly #refills = new Map<string, Promise<R>>();
  readonly #sweepIntervalMs: number;
  #lastSweep = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: TokenLeasesOptions) {
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 10_000;
  }

  /** Spends one leased token: the shared bucket's remaining tokens as this pod sees them, or undefined with none left. */
  spend(key: string, now: number): number | undefined {
    const lease = this.#leases.get(key);
    if (lease === undefined) return undefined;
    if (now >= lease.expiresAt) {
      this.#leases.delete(key);
      return undefined;
    }
    lease.tokens--;
    if (lease.tokens === 0) this.#leases.delete(key);
    // tokens still leased here are the bucket's too: no other pod can take them
    return lease.bucketRemaining + lease.tokens;
  }

  /** Keeps `tokens` granted by the shared bucket (a grant of one is spent at once by its caller and never stored). */
  store(key: string, tokens: number, bucketRemaining: number, now: number): void {
    if (now - this.#lastSweep >= this.#sweepIntervalMs) this.sweep(now);
    if (tokens > 0) this.#leases.set(key, { tokens, expiresAt: now + this.options.ttlMs, bucketRemaining });
    else this.#leases.delete(key);
  }

  /** Runs `work` for the key unless a refill is in flight already; then that one's result is shared. */
  refill(key: string, work: () => Promise<R>): Promise<R> {
    const inFlight = this.#refills.get(key);
    if (inFlight !== undefined) return inFlight;
    const started = work().finally(() => this.#refills.delete(key));
    this.#refills.set(key, started);
    return started;
  }

  /** Drops leases that have expired by `now`. */
  sweep(now: number): void {
    this.#lastSweep = now;
    for (const [key, lease] of this.#leases) if (now >= lease.expiresAt) this.#leases.delete(key);
  }

  /** Keys holding leased tokens (leak checks). */
  get size(): number {
    return this.#leases.size;
  }
}
