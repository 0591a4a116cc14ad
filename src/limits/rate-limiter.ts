import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { cacheKeys } from '../cache/cache-keys.js';
import { LocalBuckets } from './local-buckets.js';
import { perPodShare, type BucketLimits } from './token-bucket.js';

/**
 * Refill and take in one step, atomically, on Redis's clock: `token-bucket.ts` in Lua.
 * The clock is Redis `TIME`, not the caller's: every pod then refills the one shared
 * bucket from the same clock, so a pod whose clock runs ahead cannot mint tokens and one
 * that runs behind cannot stall the bucket. (Scripts are replicated by effects, so a
 * script that reads TIME may write; Redis 7 does nothing else, 3.2–4 need the call below.)
 * The key expires once the bucket would be full again: a missing key is a full bucket.
 * KEYS[1] bucket; ARGV rate per second, burst, cost. Returns {allowed, whole tokens left, ms to wait}.
 */
const TAKE_SCRIPT = `
if redis.replicate_commands then redis.replicate_commands() end
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local s = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(s[1])
local at = tonumber(s[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
if tokens > burst then tokens = burst end
if now > at then
  tokens = math.min(burst, tokens + (now - at) * rate / 1000)
  at = now
end
local allowed = 0
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  wait = math.ceil((cost - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(at))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 1000 / rate) + 1000)
return { allowed, math.floor(tokens), wait }
`;

export interface RateLimiterOptions {
  /** the shared store; absent: local buckets only (one process, e.g. the embedded default) */
  readonly redis: Redis | undefined;
  /** pods sharing the budget: while Redis is unreachable each pod allows its share, limits ÷ pods */
  readonly expectedPods: number;
  /** max ms a request waits for Redis before the local bucket decides (the client's command timeout) */
  readonly timeoutMs: number;
  /** after a Redis failure, decide locally for this long before trying Redis again */
  readonly backoffMs?: number;
  readonly logger: Logger;
  /** monotonic ms clock (local buckets and back-off) */
  readonly now?: () => number;
}

export interface RateDecision {
  readonly allowed: boolean;
  /** the bucket size that applied (the pod's share when decided locally) */
  readonly limit: number;
  readonly remaining: number;
  /** ms until a token is available; 0 when allowed */
  readonly retryAfterMs: number;
  /** `shared`: Redis decided for every pod; `local`: this process decided alone */
  readonly source: 'shared' | 'local';
}

class RedisTimeoutError extends Error {}

/**
 * A per-tenant token bucket shared by every gateway pod through Redis, and a local bucket
 * for each tenant when Redis cannot answer in time. A Redis fault never fails a request and
 * never delays one past `timeoutMs`: the request is decided locally instead.
 */
export class TenantRateLimiter {
  readonly #sha = createHash('sha1').update(TAKE_SCRIPT).digest('hex');
  readonly #local: LocalBuckets;
  readonly #now: () => number;
  #redisDownUntil = 0;
  #degraded = false;

  constructor(private readonly options: RateLimiterOptions) {
    this.#now = options.now ?? (() => performance.now());
    this.#local = new LocalBuckets({ now: this.#now });
  }

  async take(tenantId: string, limits: BucketLimits): Promise<RateDecision> {
    const redis = this.options.redis;
    if (redis !== undefined && redis.status === 'ready' && this.#now() >= this.#redisDownUntil) {
      try {
        const [allowed, remaining, wait] = await this.#bounded(this.#eval(redis, cacheKeys.rateLimit(tenantId), limits));
        if (this.#degraded) this.options.logger.info('rate limiter: Redis answers again; buckets shared');
        this.#degraded = false;
        return { allowed: allowed === 1, limit: limits.burst, remaining, retryAfterMs: wait, source: 'shared' };
      } catch (err) {
        this.#redisDownUntil = this.#now() + (this.options.backoffMs ?? 1000);
        if (!this.#degraded) this.options.logger.warn({ err: (err as Error).message }, 'rate limiter: Redis failed; deciding locally with per-pod shares');
        this.#degraded = true;
      }
    }
    const share = redis === undefined ? limits : perPodShare(limits, this.options.expectedPods);
    const result = this.#local.take(tenantId, share);
    return { ...result, limit: share.burst, source: 'local' };
  }

  /** Tenants with a local bucket that has not refilled yet (leak checks). */
  get localBuckets(): number {
    return this.#local.size;
  }

  async #eval(redis: Redis, key: string, limits: BucketLimits): Promise<[number, number, number]> {
    const args = [key, String(limits.ratePerSec), String(limits.burst), '1'];
    let reply: unknown;
    try {
      reply = await redis.evalsha(this.#sha, 1, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      // first use after a Redis restart or SCRIPT FLUSH: EVAL loads it again
      reply = await redis.eval(TAKE_SCRIPT, 1, ...args);
    }
    if (!Array.isArray(reply) || reply.length !== 3 || !reply.every((v) => typeof v === 'number')) {
      throw new Error(`unexpected rate-limit reply ${JSON.stringify(reply)}`);
    }
    return reply as [number, number, number];
  }

  /** ioredis bounds each command by its own timeout; this bounds the whole exchange (NOSCRIPT retry included). */
  #bounded<T>(work: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RedisTimeoutError(`no answer from Redis within ${this.options.timeoutMs} ms`)), this.options.timeoutMs);
    });
    // a late rejection after the timeout won must not surface as unhandled
    work.catch(() => undefined);
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
  }
}
