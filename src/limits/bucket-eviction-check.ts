import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/**
 * What the limits Redis does when full. Rate-limit buckets carry TTLs (a missing key is a
 * full bucket), so a `volatile-*` policy evicts them as readily as `allkeys-*`: either
 * hands a tenant that spent its budget a full bucket again, silently.
 */
export type EvictionVerdict =
  | { readonly state: 'safe'; readonly policy: string }
  | { readonly state: 'evicts'; readonly policy: string }
  | { readonly state: 'unknown'; readonly reason: string };

/** The limits Redis would evict rate-limit buckets; in production the gateway refuses to start. */
export class RedisEvictsRateLimitsError extends Error {
  readonly code = 'REDIS_EVICTS_RATE_LIMITS';
  override readonly name = 'RedisEvictsRateLimitsError';

  constructor(readonly policy: string) {
    super(
      `the limits Redis has maxmemory-policy ${policy}: it may evict rate-limit buckets, which come back full. ` +
        'Give rate limits a Redis of their own with --maxmemory-policy noeviction (limits.redis / LIMITS_REDIS_URL)',
    );
  }
}

export function evictsBuckets(policy: string): boolean {
  return /^(allkeys|volatile)-/i.test(policy);
}

export interface BucketEvictionCheckOptions {
  /** ms between checks once started */
  readonly intervalMs: number;
  /** ms a check waits for the client to be connected */
  readonly readyTimeoutMs: number;
  readonly logger: Logger;
  /** told every verdict (the gauge) */
  readonly onVerdict?: (verdict: EvictionVerdict) => void;
}

/**
 * Checks the limits Redis's `maxmemory-policy` (CONFIG GET) at start and then periodically,
 * and raises the alarm in the log when it would evict buckets. A managed Redis may disable
 * or rename CONFIG: then the check says it cannot tell, once, and keeps trying.
 */
export class BucketEvictionCheck {
  #timer: NodeJS.Timeout | undefined;
  #last: EvictionVerdict | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly options: BucketEvictionCheckOptions,
  ) {}

  get last(): EvictionVerdict | undefined {
    return this.#last;
  }

  async check(): Promise<EvictionVerdict> {
    const verdict = await this.#ask();
    this.#report(verdict);
    return verdict;
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.check().catch(() => undefined), this.options.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #ask(): Promise<EvictionVerdict> {
    try {
      await this.#ready();
      const reply = (await this.redis.call('CONFIG', 'GET', 'maxmemory-policy')) as unknown;
      const policy = policyOf(reply);
      if (policy === undefined) return { state: 'unknown', reason: 'CONFIG GET maxmemory-policy gave no answer' };
      return { state: evictsBuckets(policy) ? 'evicts' : 'safe', policy };
    } catch (err) {
      const message = (err as Error).message ?? '';
      if (/unknown command|NOPERM|no permissions|disabled/i.test(message)) {
        return { state: 'unknown', reason: 'CONFIG is disabled on the limits Redis (renamed or not permitted): its maxmemory-policy cannot be checked; make sure it is noeviction' };
      }
      return { state: 'unknown', reason: `the limits Redis did not answer: ${message}` };
    }
  }

  async #ready(): Promise<void> {
    if (this.redis.status === 'ready') return;
    // the offline queue is off: a command sent before `ready` fails at once
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.redis.off('ready', onReady);
        reject(new Error(`not connected within ${this.options.readyTimeoutMs} ms`));
      }, this.options.readyTimeoutMs);
      const onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      this.redis.once('ready', onReady);
    });
  }

  /** Logs a verdict when it changes (an evicting policy at every check: it is an alarm). */
  #report(verdict: EvictionVerdict): void {
    const previous = this.#last;
    this.#last = verdict;
    this.options.onVerdict?.(verdict);
    const { logger } = this.options;
    if (verdict.state === 'evicts') {
      logger.error({ alarm: 'REDIS_EVICTS_RATE_LIMITS', policy: verdict.policy }, new RedisEvictsRateLimitsError(verdict.policy).message);
    } else if (verdict.state === 'unknown' && (previous?.state !== 'unknown' || previous.reason !== verdict.reason)) {
      logger.warn({ reason: verdict.reason }, 'cannot check whether the limits Redis evicts rate-limit buckets');
    } else if (verdict.state === 'safe' && previous?.state !== 'safe') {
      logger.info({ policy: verdict.policy }, 'the limits Redis keeps rate-limit buckets (no eviction)');
    }
  }
}

/** CONFIG GET answers [name, value] (RESP2) or {name: value} (RESP3). */
function policyOf(reply: unknown): string | undefined {
  if (Array.isArray(reply)) return typeof reply[1] === 'string' ? reply[1] : reply[1] instanceof Buffer ? reply[1].toString() : undefined;
  if (reply !== null && typeof reply === 'object') {
    const value = (reply as Record<string, unknown>)['maxmemory-policy'];
    return typeof value === 'string' ? value : undefined;
  }
  return undefined;
}
