import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** What metrics read from the cluster on every scrape (no bookkeeping on the hot path). */
export interface NodeSnapshot {
  readonly shard: string;
  readonly node: string;
  readonly role: 'primary' | 'replica';
  readonly healthy: boolean;
  readonly lagMs: number;
  readonly lagBytes: number;
  readonly pool: { readonly size: number; readonly available: number; readonly using: number; readonly waiting: number; readonly max: number };
}

/** The concurrency budget as metrics read it on a scrape. */
export interface ConcurrencySnapshot {
  /** slots leased in Redis (true) or decided by this pod alone (false: Redis out, or none configured) */
  readonly shared: boolean;
  /** slots this pod holds, per shard */
  readonly slotsInUse: ReadonlyMap<string, number>;
}

/** One of this pod's busiest tenants over the recent window, as the top-tenant gauges read it. */
export interface TopTenantSnapshot {
  readonly tenant: string;
  readonly shard: string;
  readonly requests: number;
  readonly dbTimeMs: number;
}

const PREFIX = 'shardgate_';

/**
 * The Prometheus metrics of one gateway process, names as the contract gives them. One
 * registry per Gateway (never the global default), so tests can run several gateways.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<'route' | 'status' | 'shard' | 'method'>;
  readonly dbDuration: Histogram<'shard' | 'role'>;
  readonly cacheRequests: Counter<'result'>;
  /** `limit`: `rate` (the plan's token bucket) or `concurrency` (the per-tenant cap on database work) */
  readonly rateLimited: Counter<'tenant_plan' | 'limit'>;
  readonly moveRowsCopied: Counter;
  readonly moves: Counter<'state'>;
  /** the moving tenant's write pause, as the source saw it: from the fence to the end of cutover */
  readonly moveFence: Histogram;
  readonly moveCopyRate: Histogram;
  readonly slowQueries: Counter<'shard' | 'role'>;
  /** connections closed on arrival because the listener (`tenant` or `admin`) had its maximum open */
  readonly connectionsRefused: Counter<'listener'>;
  /** slot decisions the per-pod fallback made because Redis could not answer */
  readonly concurrencyFallbacks: Counter;
  /** requests refused because their shard's fleet-wide concurrency budget was spent (503 SHARD_BUSY) */
  readonly shardBusy: Counter<'shard'>;
  /** the limits Redis's maxmemory-policy: 1 evicts rate-limit buckets, 0 keeps them, -1 cannot tell (CONFIG disabled, unreachable) */
  readonly limitsRedisEvicting: Gauge;

  /** The node gauges read from here on a scrape: the shard registry, once it exists. */
  readNodesFrom(nodes: () => readonly NodeSnapshot[]): void {
    this.#nodes = nodes;
  }

  /** where the node gauges read health and pools at scrape time (none until the shards are opened) */
  #nodes: () => readonly NodeSnapshot[] = () => [];

  /** The concurrency gauges read from here on a scrape: the budget, when limits are on. */
  readConcurrencyFrom(budget: () => ConcurrencySnapshot): void {
    this.#concurrency = budget;
  }

  #concurrency: (() => ConcurrencySnapshot) | undefined;

  /** The top-tenant gauges read from here on a scrape: this pod's tenant usage. */
  readTopTenantsFrom(top: () => readonly TopTenantSnapshot[]): void {
    this.#topTenants = top;
  }

  #topTenants: () => readonly TopTenantSnapshot[] = () => [];

  constructor() {
    const nodes = () => this.#nodes();
    const concurrency = () => this.#concurrency?.();
    const topTenants = () => this.#topTenants();
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
    this.httpDuration = new Histogram({
      name: `${PREFIX}http_request_duration_seconds`,
      help: 'HTTP request duration by route template, status and shard',
      labelNames: ['route', 'status', 'shard', 'method'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.dbDuration = new Histogram({
      name: `${PREFIX}db_query_duration_seconds`,
      help: 'Database query duration by shard and node role',
      labelNames: ['shard', 'role'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers,
    });
    this.limitsRedisEvicting = new Gauge({
      name: `${PREFIX}limits_redis_evicting`,
      help: 'Whether the Redis keeping rate-limit buckets may evict them (1), keeps them (0), or cannot be checked (-1)',
      registers,
    });
    this.slowQueries = new Counter({ name: `${PREFIX}db_slow_queries_total`, help: 'Queries slower than the slow-query threshold', labelNames: ['shard', 'role'], registers });
    this.connectionsRefused = new Counter({
      name: `${PREFIX}http_connections_refused_total`,
      help: 'Connections closed on arrival because the listener had http.maxConnections (or adminMaxConnections) open',
      labelNames: ['listener'],
      registers,
    });
    this.cacheRequests = new Counter({ name: `${PREFIX}cache_requests_total`, help: 'Read-through cache lookups by result', labelNames: ['result'], registers });
    this.rateLimited = new Counter({ name: `${PREFIX}rate_limited_total`, help: 'Requests answered 429', labelNames: ['tenant_plan', 'limit'], registers });
    this.concurrencyFallbacks = new Counter({
      name: `${PREFIX}concurrency_fallbacks_total`,
      help: 'Concurrency slots decided by the per-pod budget (fleet caps / expected pods) because Redis could not answer',
      registers,
    });
    this.shardBusy = new Counter({ name: `${PREFIX}shard_busy_total`, help: "Requests answered 503 SHARD_BUSY: the shard's fleet-wide concurrency budget was spent", labelNames: ['shard'], registers });
    this.moveRowsCopied = new Counter({ name: `${PREFIX}move_rows_copied_total`, help: 'Rows copied by tenant moves', registers });
    this.moves = new Counter({ name: `${PREFIX}moves_total`, help: 'Tenant moves by final state', labelNames: ['state'], registers });
    this.moveFence = new Histogram({
      name: `${PREFIX}move_fence_seconds`,
      help: "A finished move's fence, as the server holds it: from the fence lock on the source to the end of cutover (the pause its clients see adds their own retried write; the bench measures that)",
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.moveCopyRate = new Histogram({
      name: `${PREFIX}move_copy_rows_per_second`,
      help: "A finished move's initial copy rate",
      buckets: [100, 1000, 5000, 10_000, 25_000, 50_000, 100_000, 250_000],
      registers,
    });

    new Gauge({
      name: `${PREFIX}replica_lag_seconds`,
      help: 'Replica replay lag as the router sees it',
      labelNames: ['shard', 'replica'],
      registers,
      collect() {
        this.reset();
        for (const n of nodes()) if (n.role === 'replica') this.set({ shard: n.shard, replica: n.node }, n.lagMs / 1000);
      },
    });
    new Gauge({
      name: `${PREFIX}replica_lag_bytes`,
      help: 'Replica replay lag in WAL bytes',
      labelNames: ['shard', 'replica'],
      registers,
      collect() {
        this.reset();
        for (const n of nodes()) if (n.role === 'replica') this.set({ shard: n.shard, replica: n.node }, n.lagBytes);
      },
    });
    new Gauge({
      name: `${PREFIX}replica_healthy`,
      help: '1 when the replica is in the read rotation candidates (reachable, in recovery)',
      labelNames: ['shard', 'replica'],
      registers,
      collect() {
        this.reset();
        for (const n of nodes()) if (n.role === 'replica') this.set({ shard: n.shard, replica: n.node }, n.healthy ? 1 : 0);
      },
    });
    new Gauge({
      name: `${PREFIX}primary_healthy`,
      help: '1 when the shard primary answers health probes',
      labelNames: ['shard'],
      registers,
      collect() {
        this.reset();
        for (const n of nodes()) if (n.role === 'primary') this.set({ shard: n.shard }, n.healthy ? 1 : 0);
      },
    });
    new Gauge({
      name: `${PREFIX}concurrency_shared_mode`,
      help: '1 while concurrency slots are leased in Redis across pods, 0 while this pod budgets alone',
      registers,
      collect() {
        this.reset();
        const snapshot = concurrency();
        if (snapshot !== undefined) this.set(snapshot.shared ? 1 : 0);
      },
    });
    new Gauge({
      name: `${PREFIX}concurrency_slots_in_use`,
      help: 'Concurrency slots this pod holds per shard (sum over pods: the fleet)',
      labelNames: ['shard'],
      registers,
      collect() {
        this.reset();
        for (const [shard, n] of concurrency()?.slotsInUse ?? []) this.set({ shard }, n);
      },
    });
    // tenant ids as labels, but only this pod's few busiest: the label set stays bounded
    new Gauge({
      name: `${PREFIX}tenant_top_requests`,
      help: "Requests of this pod's busiest tenants (by database time) over the recent usage window (sum over pods: the fleet)",
      labelNames: ['tenant', 'shard'],
      registers,
      collect() {
        this.reset();
        for (const t of topTenants()) this.set({ tenant: t.tenant, shard: t.shard }, t.requests);
      },
    });
    new Gauge({
      name: `${PREFIX}tenant_top_db_seconds`,
      help: "Database time of this pod's busiest tenants over the recent usage window (sum over pods: the fleet)",
      labelNames: ['tenant', 'shard'],
      registers,
      collect() {
        this.reset();
        for (const t of topTenants()) this.set({ tenant: t.tenant, shard: t.shard }, t.dbTimeMs / 1000);
      },
    });
    new Gauge({
      name: `${PREFIX}db_pool_connections`,
      help: 'Connections per node pool by state (using, available, waiting requests, max)',
      labelNames: ['shard', 'node', 'state'],
      registers,
      collect() {
        this.reset();
        for (const n of nodes()) {
          for (const state of ['using', 'available', 'waiting', 'max'] as const) this.set({ shard: n.shard, node: n.node, state }, n.pool[state]);
        }
      },
    });
  }

  /**
   * The request-duration histogram's series for one label set, made once: prom-client hashes
   * (sorts and joins) the labels on every `observe(labels, v)`, once a request otherwise.
   */
  httpDurationOf(route: string, status: number, shard: string, method: string): { observe(seconds: number): void } {
    const key = `${route}\u0000${status}\u0000${shard}\u0000${method}`;
    let series = this.#httpSeries.get(key);
    if (!series) this.#httpSeries.set(key, (series = this.httpDuration.labels({ route, status: String(status), shard, method })));
    return series;
  }

  readonly #httpSeries = new Map<string, { observe(seconds: number): void }>();

  /** The statement-duration histogram's series for one node, made once (see httpDurationOf). */
  dbDurationOf(node: { readonly shardId: string; readonly role: 'primary' | 'replica' }): { observe(seconds: number): void } {
    let series = this.#dbSeries.get(node);
    if (!series) this.#dbSeries.set(node, (series = this.dbDuration.labels({ shard: node.shardId, role: node.role })));
    return series;
  }

  readonly #dbSeries = new WeakMap<object, { observe(seconds: number): void }>();

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
