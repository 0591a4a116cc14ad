import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ShardLatencies } from '../cluster/shard-latencies.js';
import type { ShardNode } from '../cluster/shard-node.js';
import type { StatementObserver } from '../cluster/statement-observer.js';
import type { InsightsConfig } from '../config/gateway-config.js';
import type { RequestContext } from '../context/request-context.js';
import type { GatewayMetrics } from '../telemetry/gateway-metrics.js';
import { FleetFlush, type FlushChannel } from './fleet-flush.js';
import { SlowQueries } from './slow-queries.js';
import { statementWatch } from './statement-watch.js';
import { TenantIsolation, type TenantIsolationDeps } from './tenant-isolation.js';
import { TenantUsage, UNPLACED } from './tenant-usage.js';
import { UsageStore } from './usage-store.js';

export interface InsightsDeps {
  readonly config: InsightsConfig;
  /** the slow-query bound (log.slowQueryMs) */
  readonly slowQueryMs: number;
  /** where pods share usage, slow statements and isolation cooldowns (the main Redis); per pod without it */
  readonly redis: Redis | undefined;
  /** the gateways' broadcast channel: a usage read asks every pod to flush first */
  readonly channel: FlushChannel | undefined;
  readonly metrics: GatewayMetrics;
  readonly latencies: ShardLatencies;
  readonly logger: Logger;
}

/**
 * What the fleet costs, wired once for the composition root: the statement observer the
 * shard pools report to, each request's usage and slow statements as it finishes, the
 * fleet's usage and slow statements read back, and the hot-tenant isolation.
 */
export class Insights {
  readonly usage: TenantUsage;
  readonly slowQueries: SlowQueries;
  readonly observer: StatementObserver;
  #isolation: TenantIsolation | undefined;
  #nodes: (shard: string, node: string) => ShardNode | undefined = () => undefined;
  readonly #fleetFlush: FleetFlush | undefined;

  constructor(private readonly deps: InsightsDeps) {
    const { usage, slowQueries } = deps.config;
    const store = deps.redis ? new UsageStore(deps.redis, usage.retentionMs, usage.bucketMs) : undefined;
    this.usage = new TenantUsage(store, usage, deps.logger, () => this.#fleetFlush?.request() ?? Promise.resolve());
    this.#fleetFlush = deps.redis && deps.channel ? new FleetFlush(deps.channel, deps.redis, () => this.usage.flush(), usage.flushWaitMs, deps.logger) : undefined;
    this.slowQueries = new SlowQueries(deps.redis, (shard, node) => this.#nodes(shard, node), slowQueries, deps.logger);
    this.observer = statementWatch(deps);
    deps.metrics.readTopTenantsFrom(() => this.usage.podTop());
  }

  /** Where slow statements' nodes are found for their plans: the registry, once it exists (it is built with `observer`). */
  readNodesFrom(nodes: (shard: string, node: string) => ShardNode | undefined): void {
    this.#nodes = nodes;
  }

  /** A tenant request's response is finished: its usage counted, its slow statements kept with its route. */
  readonly requestFinished = (ctx: RequestContext, status: number): void => {
    if (ctx.tenantId === undefined) return;
    const shard = ctx.shardId ?? UNPLACED;
    this.usage.record(ctx.tenantId, shard, { requests: 1, errors: status >= 500 ? 1 : 0, rows: ctx.rows ?? 0, dbTimeMs: ctx.dbMs ?? 0 });
    for (const slow of ctx.slow ?? []) this.slowQueries.capture(slow, { tenant: ctx.tenantId, route: ctx.route });
  };

  /** The detector and its action, once the moves exist to act with. */
  isolation(deps: Omit<TenantIsolationDeps, 'usage' | 'redis' | 'options' | 'logger'>): TenantIsolation {
    this.#isolation = new TenantIsolation({ ...deps, usage: this.usage, redis: this.deps.redis, options: this.deps.config.hotTenants, logger: this.deps.logger });
    return this.#isolation;
  }

  start(): void {
    this.usage.start();
    this.#isolation?.start();
  }

  async stop(): Promise<void> {
    this.#isolation?.stop();
    this.#fleetFlush?.close();
    await this.usage.stop();
  }
}
