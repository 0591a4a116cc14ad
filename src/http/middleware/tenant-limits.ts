import type { RequestHandler, Response } from 'express';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../../config/gateway-config.js';
import { GatewayError, ShardBusyError } from '../../errors/errors.js';
import type { GatewayMetrics } from '../../telemetry/gateway-metrics.js';
import type { BucketLimits } from '../../limits/token-bucket.js';
import { TenantRateLimiter } from '../../limits/tenant-rate-limiter.js';
import { ConcurrencyBudget } from '../../limits/concurrency-budget.js';
import { ShardSlots } from '../../limits/shard-slots.js';
import { sessionOf, tenantOf } from './tenant-context.js';

/** The plan every tenant without a configured plan of its own is limited by. */
export const DEFAULT_PLAN = 'standard';

export interface TenantLimitsDeps {
  readonly rateLimiter: TenantRateLimiter;
  readonly budget: ConcurrencyBudget;
  readonly plans: Readonly<Record<string, BucketLimits>>;
  readonly metrics: GatewayMetrics;
}

function rateLimited(detail: string, retryAfterSeconds: number): GatewayError {
  return new GatewayError('RATE_LIMITED', detail, { retryAfterSeconds: Math.max(1, Math.ceil(retryAfterSeconds)) });
}

/**
 * Per-tenant limits as two middlewares for the `/v1` router, both after authentication:
 * `rate()` spends a token of the tenant's plan bucket (shared across pods through Redis, leased in small batches);
 * `concurrency()` holds a slot of database work, leased in Redis against the tenant's and
 * its shard's fleet-wide caps, until the response is finished or the client goes away.
 * Over its own rate or cap a tenant gets 429 RATE_LIMITED with Retry-After (its share is
 * spent, the gateway is not unavailable); a shard whose budget every tenant together has
 * spent answers 503 SHARD_BUSY with Retry-After.
 */
export class TenantLimits {
  // a request re-dispatched through the router (fenced-write retry) is limited once, not twice
  readonly #rated = new WeakSet<Response>();
  readonly #holding = new WeakSet<Response>();

  constructor(private readonly deps: TenantLimitsDeps) {}

  static fromConfig(
    limits: Readonly<GatewayConfig['limits']>,
    io: { readonly redis: Redis | undefined; readonly commandTimeoutMs: number; readonly poolMax: number; readonly logger: Logger; readonly metrics: GatewayMetrics },
  ): TenantLimits {
    const budget = new ConcurrencyBudget({
      slots: io.redis === undefined ? undefined : new ShardSlots({ redis: io.redis, leaseTtlMs: limits.concurrencyLeaseTtlMs, timeoutMs: io.commandTimeoutMs }),
      limits: { tenant: limits.maxConcurrentPerTenant, shard: limits.shardConcurrency },
      expectedPods: limits.expectedPods,
      // the fleet cap may exceed one pod's pool; one pod still keeps a connection for other tenants
      podTenantCeiling: Math.max(1, io.poolMax - 1),
      leaseTtlMs: limits.concurrencyLeaseTtlMs,
      lingerMs: limits.slotLingerMs,
      maxQueued: limits.maxQueuedPerTenant,
      queueTimeoutMs: limits.queueTimeoutMs,
      logger: io.logger,
      onFallback: () => io.metrics.concurrencyFallbacks.inc(),
    });
    io.metrics.readConcurrencyFrom(() => ({ shared: budget.shared, slotsInUse: budget.slotsInUse() }));
    return new TenantLimits({
      rateLimiter: new TenantRateLimiter({
        redis: io.redis,
        expectedPods: limits.expectedPods,
        leaseMax: limits.leaseMax,
        leaseTtlMs: limits.leaseTtlMs,
        timeoutMs: io.commandTimeoutMs,
        logger: io.logger,
      }),
      budget,
      plans: limits.plans,
      metrics: io.metrics,
    });
  }

  get budget(): ConcurrencyBudget {
    return this.deps.budget;
  }

  /** Stops the budget's lease renewals (the gateway's listeners are closed by then). */
  close(): void {
    this.deps.budget.close();
  }

  get rateLimiter(): TenantRateLimiter {
    return this.deps.rateLimiter;
  }

  /** The plan that applies: the tenant's own when configured, else the default one (bounded metric labels). */
  planOf(res: Response): { name: string; limits: BucketLimits } {
    const plan = tenantOf(res).plan;
    const own = Object.hasOwn(this.deps.plans, plan) ? this.deps.plans[plan] : undefined;
    return own !== undefined ? { name: plan, limits: own } : { name: DEFAULT_PLAN, limits: this.deps.plans[DEFAULT_PLAN]! };
  }

  rate(): RequestHandler {
    return async (_req, res, next) => {
      if (this.#rated.has(res)) {
        next();
        return;
      }
      this.#rated.add(res);
      const plan = this.planOf(res);
      const decision = await this.deps.rateLimiter.take(tenantOf(res).id, plan.limits);
      res.setHeader('RateLimit-Limit', String(decision.limit));
      res.setHeader('RateLimit-Remaining', String(Math.max(0, decision.remaining)));
      if (decision.allowed) {
        next();
        return;
      }
      this.deps.metrics.rateLimited.inc({ tenant_plan: plan.name, limit: 'rate' });
      next(rateLimited(`The tenant's request rate exceeds its plan (${plan.limits.ratePerSec}/s, burst ${plan.limits.burst})`, decision.retryAfterMs / 1000));
    };
  }

  concurrency(): RequestHandler {
    return async (_req, res, next) => {
      if (this.#holding.has(res)) {
        next();
        return;
      }
      const tenantId = tenantOf(res).id;
      const shardId = sessionOf(res).shard.id;
      // waiting: a client that goes away leaves the queue at once
      const abort = new AbortController();
      const onClose = () => abort.abort();
      res.once('close', onClose);
      const grant = await this.deps.budget.acquire(tenantId, shardId, abort.signal);
      res.off('close', onClose);
      if (!grant.ok) {
        if (grant.reason === 'aborted') return;
        if (grant.reason === 'shard') {
          this.deps.metrics.shardBusy.inc({ shard: shardId });
          next(new ShardBusyError(shardId));
          return;
        }
        this.deps.metrics.rateLimited.inc({ tenant_plan: this.planOf(res).name, limit: 'concurrency' });
        next(rateLimited('Too many concurrent requests for this tenant', 1));
        return;
      }
      const release = grant.release;
      if (res.destroyed) {
        // the client left while this request waited: no work to do for it
        release();
        return;
      }
      this.#holding.add(res);
      // 'close' follows 'finish', and comes alone when the client aborts; release is idempotent
      res.once('finish', release);
      res.once('close', release);
      next();
    };
  }
}
