/**
 * Token-bucket arithmetic, pure: the local fallback runs it in process and the Redis script
 * in `tenant-rate-limiter.ts` is the same steps in Lua. A bucket holds at most `burst` tokens, gains
 * `ratePerSec` a second, and a request takes one; an empty bucket says how long to wait.
 */

/** One plan's limits. */
export interface BucketLimits {
  /** tokens added per second: the sustained request rate */
  readonly ratePerSec: number;
  /** bucket size: how many requests may arrive at once after a quiet spell */
  readonly burst: number;
}

/** A bucket as stored: its tokens (fractional) as of `at` (ms). */
export interface BucketState {
  readonly tokens: number;
  readonly at: number;
}

export interface TakeResult {
  readonly allowed: boolean;
  /** whole tokens left after this take */
  readonly remaining: number;
  /** ms until `cost` tokens are available; 0 when allowed */
  readonly retryAfterMs: number;
}

/** The bucket refilled up to `now`; a clock that went backwards refills nothing (and never drains). */
export function refill(state: BucketState | undefined, limits: BucketLimits, now: number): BucketState {
  if (state === undefined) return { tokens: limits.burst, at: now };
  // a plan lowered since the bucket was stored caps it at once
  const tokens = Math.min(limits.burst, state.tokens);
  if (now <= state.at) return { tokens, at: state.at };
  return { tokens: Math.min(limits.burst, tokens + ((now - state.at) * limits.ratePerSec) / 1000), at: now };
}

/** Refill, then take `cost` tokens if there are enough; the new state is stored either way. */
export function take(state: BucketState | undefined, limits: BucketLimits, now: number, cost = 1): { state: BucketState; result: TakeResult } {
  const full = refill(state, limits, now);
  if (full.tokens >= cost) {
    const next = { tokens: full.tokens - cost, at: full.at };
    return { state: next, result: { allowed: true, remaining: Math.floor(next.tokens), retryAfterMs: 0 } };
  }
  const retryAfterMs = Math.ceil(((cost - full.tokens) * 1000) / limits.ratePerSec);
  return { state: full, result: { allowed: false, remaining: Math.floor(full.tokens), retryAfterMs } };
}

/** Refill, then give back `tokens` (a charge that turned out not to apply), never beyond the burst. */
export function refund(state: BucketState | undefined, limits: BucketLimits, now: number, tokens = 1): BucketState {
  const full = refill(state, limits, now);
  return { tokens: Math.min(limits.burst, full.tokens + tokens), at: full.at };
}

/** ms until the bucket is full again: past it, a stored bucket equals a fresh one and may be dropped. */
export function msUntilFull(state: BucketState, limits: BucketLimits): number {
  return Math.max(0, ((limits.burst - state.tokens) * 1000) / limits.ratePerSec);
}

/** A pod's share of a shared budget: used while Redis is unreachable (at least one token of burst). */
export function perPodShare(limits: BucketLimits, pods: number): BucketLimits {
  return { ratePerSec: limits.ratePerSec / pods, burst: Math.max(1, Math.floor(limits.burst / pods)) };
}
