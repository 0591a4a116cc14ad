import { GatewayError } from '../errors/errors.js';

/** SQLSTATEs after which the whole transaction may simply run again. */
export const RETRYABLE_SQLSTATES: Readonly<Record<string, string>> = Object.freeze({
  '40001': 'serialization_failure',
  '40P01': 'deadlock_detected',
});

/** How often, and how patiently, a transaction is re-run after a serialization failure or deadlock. */
export interface RetryPolicy {
  /** total runs, the first included */
  readonly attempts: number;
  /** backoff before the second run; doubles each time after */
  readonly baseDelayMs: number;
  /** cap on one backoff */
  readonly maxDelayMs: number;
}

/**
 * Sized for a hot row: N orders racing for one product succeed one per round under
 * REPEATABLE READ (every waiter on the row lock fails with 40001 when the holder commits),
 * so the unluckiest needs about N runs; full jitter spreads the rounds out. About 1 s of
 * backoff on average before giving up with a 409 and Retry-After.
 */
export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({ attempts: 10, baseDelayMs: 10, maxDelayMs: 500 });

/** Seams for tests: randomness, the clock, and an observer of each retry. */
export interface RetryHooks {
  readonly random?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly onRetry?: (info: { readonly attempt: number; readonly sqlState: string; readonly delayMs: number }) => void;
}

/**
 * The retryable SQLSTATE an error carries, if any. Sequelize wraps the driver error
 * (`parent` / `original`), and callers may wrap once more (`cause`): walk all of them.
 */
export function retryableSqlState(err: unknown): string | undefined {
  const seen = new Set<unknown>();
  let queue: unknown[] = [err];
  while (queue.length > 0) {
    const next: unknown[] = [];
    for (const e of queue) {
      if (typeof e !== 'object' || e === null || seen.has(e)) continue;
      seen.add(e);
      const { code, parent, original, cause } = e as { code?: unknown; parent?: unknown; original?: unknown; cause?: unknown };
      if (typeof code === 'string' && code in RETRYABLE_SQLSTATES) return code;
      next.push(parent, original, cause);
    }
    queue = next;
  }
  return undefined;
}

/** "Full jitter" exponential backoff: uniform in [0, min(max, base·2^(retry-1))], retry ≥ 1. */
export function backoffDelayMs(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * (ceiling + 1));
}

const sleepMs = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `work` until it succeeds, fails with anything but a serialization failure or a
 * deadlock, or has used every attempt; then a 409 CONFLICT (with Retry-After) whose cause
 * is the last database error. `work` must be safe to re-run: a whole transaction, never a
 * part of one (after 40001 PostgreSQL has already rolled the snapshot's work back).
 */
export async function retrySerializable<T>(work: (attempt: number) => Promise<T>, policy: RetryPolicy = DEFAULT_RETRY_POLICY, hooks: RetryHooks = {}): Promise<T> {
  const attempts = Math.max(1, Math.floor(policy.attempts));
  for (let attempt = 1; ; attempt++) {
    try {
      return await work(attempt);
    } catch (err) {
      const sqlState = retryableSqlState(err);
      if (sqlState === undefined) throw err;
      if (attempt >= attempts) {
        throw new GatewayError('CONFLICT', `The request kept conflicting with concurrent requests (${RETRYABLE_SQLSTATES[sqlState]}, ${attempts} attempts); retry it`, {
          cause: err,
          retryAfterSeconds: 1,
        });
      }
      const delayMs = backoffDelayMs(attempt, policy, hooks.random);
      hooks.onRetry?.({ attempt, sqlState, delayMs });
      await (hooks.sleep ?? sleepMs)(delayMs);
    }
  }
}
