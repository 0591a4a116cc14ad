import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { cacheKeys } from '../cache/cache-keys.js';
import { LocalBuckets } from './local-buckets.js';
import { RedisScript } from './redis-script.js';
import { perPodShare, type BucketLimits } from './token-bucket.js';
import { TokenLeases } from './token-leases.js';

/**
 * Refill and lease in one step, atomically, on Redis's clock: `token-bucket.ts` in Lua,
 * except that a call may take several tokens at once (a lease the pod then spends locally).
 * The clock is Redis `TIME`, not the caller's: every pod then refills the one shared
 * bucket from the same clock, so a pod whose clock runs ahead cannot mint tokens and one
 * that runs behind cannot stall the bucket. (Scripts are replicated by effects, so a
 * script that reads TIME may write; Redis 7 does nothing else, 3.2–4 need the call below.)
 * The key expires once the bucket would be full again: a missing key is a full bucket.
 * KEYS[1] bucket; ARGV rate per second, burst, tokens wanted. Returns {tokens granted
 * (at most the whole tokens there are; 0 when not even one), whole tokens left, ms until one}.
 */
const LEASE_SCRIPT = new RedisScript(`
if redis.replicate_commands then redis.replicate_commands() end
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
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
local granted = 0
local wait = 0
if tokens >= 1 then
  granted = math.min(want, math.floor(tokens))
  tokens = tokens - granted
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(at))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 1000 / rate) + 1000)
return { granted, math.floor(tokens), wait }
`);

export interface RateLimiterOptions {
  /** the shared store; absent: local buckets only (one process, e.g. the embedded default) */
  readonly redis: Redis | undefined;
  /** pods sharing the budget: while Redis is unreachable each pod allows its share, limits ÷ pods */
  readonly expectedPods: number;
  /** max ms a request waits for Redis before the local bucket decides (the client's command timeout) */
  readonly timeoutMs: number;
  /** most tokens one Redis call leases to this pod (1: a Redis call per request) */
  readonly leaseMax?: number;
  /** ms leased tokens stay spendable */
  readonly leaseTtlMs?: number;
  /** after a Redis failure, decide locally for this long before trying Redis again */
  readonly backoffMs?: number;
  readonly logger: Logger;
  /** monotonic ms clock (local buckets, leases and back-off) */
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

interface LeaseReply {
  readonly granted: number;
  readonly remaining: number;
  readonly waitMs: number;
}

/**
 * How many tokens one Redis call leases: at most `leaseMax`, and small against the burst,
 * so that what pods hold unspent (up to lease − 1 each) stays within a quarter of it; a
 * plan with a small burst is leased one token at a time, exactly as without leases.
 */
export function leaseSize(limits: BucketLimits, expectedPods: number, leaseMax: number): number {
  return Math.max(1, Math.min(leaseMax, Math.floor(limits.burst / (4 * expectedPods))));
}

/**
 * A per-tenant token bucket shared by every gateway pod through Redis, and a local bucket
 * for each tenant when Redis cannot answer in time. A Redis fault never fails a request and
 * never delays one past `timeoutMs`: the request is decided locally instead.
 *
 * Tokens come from Redis in small leases (`leaseSize`) and are spent here, so most requests
 * make no Redis call. The price is precision across pods: a pod's unspent leased tokens are
 * not available to the others (a tenant near its limit may see a 429 on one pod while
 * another still holds a few tokens), and tokens are spent up to `leaseTtlMs` after Redis
 * counted them, so over any window a tenant gets at most one lease per pod more than the
 * exact bucket would allow.
 */
export class TenantRateLimiter {
  readonly #local: LocalBuckets;
  readonly #leases: TokenLeases<LeaseReply>;
  readonly #now: () => number;
  #redisDownUntil = 0;
  #degraded = false;

  constructor(private readonly options: RateLimiterOptions) {
    this.#now = options.now ?? (() => performance.now());
    this.#local = new LocalBuckets({ now: this.#now });
    this.#leases = new TokenLeases({ ttlMs: options.leaseTtlMs ?? 1000 });
  }

  async take(tenantId: string, limits: BucketLimits): Promise<RateDecision> {
    const redis = this.options.redis;
    // each pass spends a leased token, or has Redis lease more (one call per tenant at a
    // time: concurrent requests wait for it and share what it brought)
    for (;;) {
      const remaining = this.#leases.spend(tenantId, this.#now());
      if (remaining !== undefined) return { allowed: true, limit: limits.burst, remaining, retryAfterMs: 0, source: 'shared' };
      if (redis === undefined || redis.status !== 'ready' || this.#now() < this.#redisDownUntil) break;
      let reply: LeaseReply;
      try {
        reply = await this.#leases.refill(tenantId, () => this.#lease(redis, tenantId, limits));
      } catch (err) {
        this.#redisDownUntil = this.#now() + (this.options.backoffMs ?? 1000);
        if (!this.#degraded) this.options.logger.warn({ err: (err as Error).message }, 'rate limiter: Redis failed; deciding locally with per-pod shares');
        this.#degraded = true;
        break;
      }
      if (reply.granted === 0) return { allowed: false, limit: limits.burst, remaining: reply.remaining, retryAfterMs: reply.waitMs, source: 'shared' };
    }
    const share = redis === undefined ? limits : perPodShare(limits, this.options.expectedPods);
    const result = this.#local.take(tenantId, share);
    return { ...result, limit: share.burst, source: 'local' };
  }

  /** Tenants with a local bucket that has not refilled yet (leak checks). */
  get localBuckets(): number {
    return this.#local.size;
  }

  /** Tenants holding leased tokens (leak checks). */
  get leases(): number {
    return this.#leases.size;
  }

  /** One lease from Redis, stored for the requests waiting on it. */
  async #lease(redis: Redis, tenantId: string, limits: BucketLimits): Promise<LeaseReply> {
    const want = leaseSize(limits, this.options.expectedPods, this.options.leaseMax ?? 1);
    const [granted, remaining, waitMs] = await this.#eval(redis, cacheKeys.rateLimit(tenantId), limits, want);
    if (this.#degraded) this.options.logger.info('rate limiter: Redis answers again; buckets shared');
    this.#degraded = false;
    this.#leases.store(tenantId, granted, remaining, this.#now());
    return { granted, remaining, waitMs };
  }

  async #eval(redis: Redis, key: string, limits: BucketLimits, want: number): Promise<[number, number, number]> {
    const reply = await LEASE_SCRIPT.run(redis, [key], [String(limits.ratePerSec), String(limits.burst), String(want)], this.options.timeoutMs);
    if (!Array.isArray(reply) || reply.length !== 3 || !reply.every((v) => typeof v === 'number')) {
      throw new Error(`unexpected rate-limit reply ${JSON.stringify(reply)}`);
    }
    const [granted, remaining, waitMs] = reply as [number, number, number];
    if (granted < 0 || granted > want) throw new Error(`unexpected rate-limit reply ${JSON.stringify(reply)}`);
    return [granted, remaining, waitMs];
  }
}
