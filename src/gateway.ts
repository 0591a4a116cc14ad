import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import type { GatewayConfig } from './config/gateway-config.js';
import { Catalog } from './catalog/catalog.js';
import type { ShardRow } from './catalog/catalog-rows.js';
import { ShardRegistry } from './cluster/shard-registry.js';
import { ShardLatencies } from './cluster/shard-latencies.js';
import { ShardSecrets } from './catalog/shard-secrets.js';
import { HealthMonitor } from './cluster/health-monitor.js';
import { ShardRouter } from './cluster/shard-router.js';
import { ConsistencyTokens } from './cluster/consistency-token.js';
import { PlacementService } from './placement/placement-service.js';
import { placementRing } from './placement/ring.js';
import { TenantAuthenticator } from './tenancy/tenant-authenticator.js';
import { TenantSessions } from './data/tenant-sessions.js';
import { UsersRepository } from './data/users/users-repository.js';
import { ProductCache } from './data/products/product-cache.js';
import { ProductsRepository } from './data/products/products-repository.js';
import { ProductBatches } from './data/products/product-batches.js';
import { OrdersRepository } from './data/orders/orders-repository.js';
import { AnalyticsRepository } from './data/analytics/analytics-repository.js';
import { AuditTrail } from './data/audit/audit-trail.js';
import { CommentsRepository } from './data/comments/comments-repository.js';
import { CacheStack } from './cache/cache-stack.js';
import { Keyring, PasswordHasher, type ModelDeps } from './models/index.js';
import { RegistryShardMigrator } from './schema/registry-shard-migrator.js';
import { SeriesPartitionKeeper } from './schema/series-partition-keeper.js';
import { SeriesRepository } from './data/series/series-repository.js';
import { shardMigrations } from '../shards/migrations/shard/index.js';
import type { Migration } from '../shards/migrations/migration.js';
import { Lifecycle } from './http/lifecycle.js';
import { createTenantApp } from './http/tenant-app.js';
import { TenantLimits } from './http/middleware/tenant-limits.js';
import { createAdminApp } from './http/admin-app.js';
import { QueryStats } from './insights/query-stats.js';
import { Insights } from './insights/insights.js';
import type { TwoPhaseHooks } from './transactions/two-phase-commit.js';
import type { TransactionRecovery } from './transactions/transaction-recovery.js';
import { distributedTransactions } from './transactions/transactions.js';
import type { SchemaRollout } from './schema/rollout/schema-rollout.js';
import { fleetSchema, rollOutMigrations, warnPendingMigrations } from './schema/rollout/fleet-schema.js';
import { fleetBackups, type FleetBackups } from './backups/fleet-backups.js';
import { Listener, type ListenerOptions } from './http/listener.js';
import type { RouteTable } from './http/route-table.js';
import { FailedAuthThrottle } from './limits/failed-auth-throttle.js';
import { GatewayMetrics, type NodeSnapshot } from './telemetry/gateway-metrics.js';
import { GatewayPlacementAnnouncer } from './placement/gateway-placement-announcer.js';
import { Moves } from './rebalance/moves.js';
import type { MoveHooks } from './rebalance/move/tenant-mover.js';
import { ShardUrlPolicy } from './rebalance/topology/shard-url-policy.js';
import { closeRedisClient } from './cache/redis-client.js';
import type { BucketEvictionCheck } from './limits/bucket-eviction-check.js';
import { openLimitsRedis } from './limits/limits-redis.js';
import { PgTls, stripTlsParams } from './transport/pg-tls.js';
import { RedisTls } from './transport/redis-tls.js';

export interface GatewayOptions {
  readonly logger: Logger;
  /** resolved by the caller: from config, or generated and printed */
  readonly adminToken: string;
  /** config's shard endpoints override the catalog's (embedded databases move ports on restart) */
  readonly endpointsFromConfig?: boolean;
  /**
   * where the `${env:NAME}` references of shard URLs are read (main.ts passes a snapshot
   * taken before it drops PGPASSWORD); process.env when not given
   */
  readonly secretEnv?: Readonly<Record<string, string | undefined>>;
  /** roll the pending shard migrations out before serving (the embedded default: nobody else will) */
  readonly migrateShards?: boolean;
  /** test seam: told before each tenant move stage's side effects (throw to fail the move) */
  readonly moveHooks?: MoveHooks;
  /** test seam: told between the phases of a two-phase transfer */
  readonly twoPhaseHooks?: TwoPhaseHooks;
  /** test seam: the shard migrations this gateway's code has (the project's own when not given) */
  readonly shardMigrations?: readonly Migration[];
}

/** Every node's health and pool, as metrics read them on a scrape. */
function nodeSnapshots(registry: ShardRegistry): NodeSnapshot[] {
  return registry.all().flatMap((shard) =>
    shard.nodes.map((n) => ({ shard: shard.id, node: n.name, role: n.role, healthy: n.health.healthy, lagMs: n.health.lagMs, lagBytes: n.health.lagBytes, pool: n.poolStats() })),
  );
}

/**
 * What every node's models need: the password KDF, the encryption keyring, and the alarm
 * for an encrypted value that does not open at its place (the place, never the value).
 */
export function buildModelDeps(config: Readonly<GatewayConfig>, logger: Logger): ModelDeps {
  return {
    hasher: new PasswordHasher({ cost: config.security.scryptCost, maxConcurrent: config.security.scryptConcurrency, maxQueued: config.security.scryptMaxQueued }),
    keyring: new Keyring(config.encryption.keys, config.encryption.currentKeyId),
    integrityAlarm: (err) => logger.error({ alarm: 'field_integrity', code: err.code, ...err.place }, 'stored encrypted value failed its integrity check (moved between rows or tenants, or tampered)'),
  };
}

/** Every PostgreSQL URL of the config: where TLS parameters could hide. */
function configuredPgUrls(config: Readonly<GatewayConfig>): string[] {
  const urlOf = (r: string | { readonly url: string }) => (typeof r === 'string' ? r : r.url);
  return [
    ...(config.catalog === undefined ? [] : [config.catalog]),
    ...config.shards.flatMap((s) => [s.primary, ...s.replicas.map(urlOf), ...(s.admin ? [s.admin.primary, ...s.admin.replicas.map(urlOf)] : [])]),
  ];
}

/** TLS parameters in the configured URLs are dropped (db.tls decides): say so once, by name. */
function warnDroppedTlsParams(config: Readonly<GatewayConfig>, logger: Logger): void {
  const dropped = new Set(configuredPgUrls(config).flatMap((url) => stripTlsParams(url).dropped));
  if (dropped.size > 0) logger.warn({ parameters: [...dropped], mode: config.db.tls.mode }, 'TLS parameters in database URLs are ignored; db.tls applies to every connection');
}

export function seedRows(config: Readonly<GatewayConfig>): ShardRow[] {
  return config.shards.map((s) => ({ id: s.id, primary: s.primary, replicas: s.replicas, weight: s.weight ?? 100, state: 'active', admin: s.admin }));
}

/**
 * The composition root: builds every component from config, wires dependencies through
 * constructors, and owns their lifecycle. `main.ts` adds the process concerns (embedded
 * databases, signals, printing); tests start a Gateway directly on ephemeral ports.
 */
export class Gateway {
  private constructor(
    readonly config: Readonly<GatewayConfig>,
    readonly lifecycle: Lifecycle,
    readonly catalog: Catalog,
    readonly registry: ShardRegistry,
    readonly health: HealthMonitor,
    readonly placement: PlacementService,
    readonly authenticator: TenantAuthenticator,
    /** opens a tenant's session on its shard, as a request does (tests reach repositories through it) */
    readonly sessions: TenantSessions,
    readonly cacheStack: CacheStack,
    readonly tenantListener: Listener,
    readonly adminListener: Listener,
    private readonly logger: Logger,
    readonly moves: Moves,
    /** per-tenant rate limit and concurrency budget; absent with `limits.enabled: false` */
    readonly limits: TenantLimits | undefined,
    /** keeps every shard's series partitions ready (and old ones dropped) */
    readonly seriesPartitions: SeriesPartitionKeeper,
    /** every route each listener answers, as its app mounted them (the fuzz suite enumerates these) */
    readonly routes: { readonly tenant: RouteTable; readonly admin: RouteTable },
    /** the rate limits' Redis client and the check of its eviction policy (absent without Redis or limits) */
    readonly limitsRedis: { readonly redis: Redis; readonly check: BucketEvictionCheck } | undefined,
    /** the loop that finishes or undoes distributed transactions nobody holds */
    readonly recovery: TransactionRecovery,
    /** online schema changes: submitted by the admin API, resumed by any gateway */
    readonly schemaRollout: SchemaRollout,
    /** base backups and their jobs (absent where backups are the platform's) */
    readonly backups: FleetBackups | undefined,
    /** tenant usage, slow statements and hot tenants */
    readonly insights: Insights,
  ) {}

  static async start(config: Readonly<GatewayConfig>, options: GatewayOptions): Promise<Gateway> {
    const { logger } = options;
    if (config.catalog === undefined) throw new Error('Gateway.start needs a catalog URL (main.ts starts the embedded one)');
    const lifecycle = new Lifecycle();
    // read once: a bad CA file fails the start, not a connection later
    const pgTls = PgTls.fromConfig(config.db.tls, config.db.connectTimeoutMs);
    const redisTls = RedisTls.fromConfig(config.redisTls);
    warnDroppedTlsParams(config, logger);
    const metrics = new GatewayMetrics();
    const limitsRedis = await openLimitsRedis(config, redisTls, metrics, logger);

    const catalog = new Catalog({
      url: config.catalog,
      poolMax: Math.max(2, Math.min(config.pool.max, 5)),
      connectTimeoutMs: config.db.connectTimeoutMs,
      // catalog queries are point lookups: a slow catalog should fail fast and fall back
      // to cached tenants and placement, not hold requests for a full statement timeout
      statementTimeoutMs: Math.min(config.db.statementTimeoutMs, 2000),
      shardSecrets: new ShardSecrets(config.encryption.keys, config.encryption.currentKeyId, options.secretEnv ?? process.env),
      tls: pgTls,
      ring: placementRing,
    });
    await catalog.migrate();
    await catalog.shards.seed(seedRows(config), { endpoints: options.endpointsFromConfig ? 'always' : 'same-nodes' });

    const cacheStack = CacheStack.create({
      redisUrl: config.redis,
      ttlMs: config.cache.ttlMs,
      localTtlMs: config.cache.localTtlMs,
      localMaxBytes: config.cache.localMaxBytes,
      localMaxEntryBytes: config.cache.localMaxEntryBytes,
      commandTimeoutMs: config.cache.commandTimeoutMs,
      connectTimeoutMs: config.cache.connectTimeoutMs,
      tls: config.redis === undefined ? undefined : redisTls.options(config.redis),
      logger,
      onResult: (result) => metrics.cacheRequests.inc({ result }),
    });
    const latencies = new ShardLatencies();
    // the registry's pools report every statement here: metrics, slow statements, tenant usage
    const insights = new Insights({ config: config.insights, slowQueryMs: config.log.slowQueryMs, redis: cacheStack.redis, channel: cacheStack.bus, metrics, latencies, logger });
    const modelDeps = buildModelDeps(config, logger);
    const registry = new ShardRegistry(
      {
        poolMax: config.pool.max,
        poolMin: config.pool.min,
        poolIdleMs: config.pool.idleMs,
        poolAcquireMs: config.pool.acquireMs,
        statementTimeoutMs: config.db.statementTimeoutMs,
        idleInTransactionTimeoutMs: config.db.idleInTransactionTimeoutMs,
        connectTimeoutMs: config.db.connectTimeoutMs,
        requestRole: config.db.requestRole,
        preparedStatements: config.db.preparedStatements,
        tls: pgTls,
      },
      modelDeps,
      insights.observer,
    );
    metrics.readNodesFrom(() => nodeSnapshots(registry));
    insights.readNodesFrom((shard, name) => registry.node(shard, name));
    const placement = new PlacementService(catalog, { refreshIntervalMs: config.placement.refreshIntervalMs }, logger);
    // shards another gateway added show up on reload; open connections to them
    placement.onReload((shards) => {
      for (const s of shards) if (s.state !== 'retired') registry.add(s);
    });
    await placement.reload();
    const seriesPartitions = new SeriesPartitionKeeper(
      () => placement.shards.filter((s) => s.state !== 'retired'),
      { ...config.series, intervalMs: config.series.maintenanceIntervalMs, connectTimeoutMs: config.db.connectTimeoutMs, tls: pgTls },
      logger,
    );
    const fleetShards = async () => (await catalog.shards.list()).filter((s) => s.state !== 'retired');
    const owner = `gateway-${randomUUID()}`;
    const migrations = options.shardMigrations ?? shardMigrations;
    const { runner: migrationRunner, rollout: schemaRollout } = fleetSchema({ config, store: catalog.schemaChanges, shards: fleetShards, tls: pgTls, logger, owner, migrations });
    // a shard joining the fleet (added, or a move's target) gets its series partitions and the fleet's schema changes too
    const migrator = new RegistryShardMigrator(registry, migrationRunner, (shard) => Promise.all([seriesPartitions.keep(shard), schemaRollout.catchUp(shard)]));
    for (const shard of placement.shards) if (shard.state !== 'retired') registry.add(shard);
    // the fleet's shards are migrated by the rollout (npm run migrate, the migration Job,
    // POST /admin/schema-changes {migrations: true}), never by a gateway as it starts
    if (options.migrateShards) await rollOutMigrations(schemaRollout, logger);
    else await warnPendingMigrations(placement.shards, migrationRunner, logger);

    const health = new HealthMonitor(
      registry,
      { intervalMs: config.routing.healthIntervalMs, timeoutMs: config.routing.healthTimeoutMs, connectTimeoutMs: config.db.connectTimeoutMs },
      logger,
    );
    await health.checkAll();
    health.start();
    placement.start();
    // before serving: an existing shard's window may have moved on while no gateway ran
    await seriesPartitions.keepAll();
    seriesPartitions.start();

    const router = new ShardRouter({ maxReplicaLagMs: config.routing.maxReplicaLagMs, maxReplicaLagBytes: config.routing.maxReplicaLagBytes });
    const authenticator = new TenantAuthenticator(catalog.apiKeys, config.tenants, logger);
    await authenticator.start();

    // another gateway changed a tenant's status: drop its cached key lookup here too
    cacheStack.bus?.onMessage((message, own) => {
      if (own) return;
      if (message.kind === 'tenant' || message.kind === 'credentials') authenticator.invalidate(message.tenantId);
      if (message.kind === 'catalog' && message.placed) placement.placed(BigInt(message.version), new Map(Object.entries(message.placed)));
      if (message.kind === 'catalog') void placement.refresh().catch(() => undefined);
    });
    // a placement change made here (a move's cutover, a ring change): this gateway reloads,
    // the others hear the new catalog version, and the tenants' cached reads are dropped
    const announcer = new GatewayPlacementAnnouncer({ placement, bus: cacheStack.bus, cache: cacheStack.cache, logger });
    const moves = new Moves({
      config: config.moves, leases: config.placement, latencies, connectTimeoutMs: config.db.connectTimeoutMs, tls: pgTls,
      catalog, placement, logger, announcer, migrator,
      shardUrlPolicy: new ShardUrlPolicy(config.security.shardHosts),
      hooks: {
        ...options.moveHooks,
        rowsCopied: (rows) => {
          metrics.moveRowsCopied.inc(rows);
          options.moveHooks?.rowsCopied?.(rows);
        },
        finished: (state, move) => {
          metrics.moves.inc({ state });
          if (state === 'done' && move.detail.fenceMs !== undefined) metrics.moveFence.observe(move.detail.fenceMs / 1000);
          if (state === 'done' && move.detail.rowsPerSecond !== undefined) metrics.moveCopyRate.observe(move.detail.rowsPerSecond);
          options.moveHooks?.finished?.(state, move);
        },
      },
    });
    const { keyring } = modelDeps;
    const backups = fleetBackups({ config, store: catalog.backups, tenants: catalog.tenants, apiKeys: catalog.apiKeys, shards: fleetShards, transfer: moves.transfer, jobs: catalog.jobs, keyring, tls: pgTls, logger, owner });
    const productCache = new ProductCache({ cache: config.cache.enabled ? cacheStack.cache : undefined, ttlMs: config.cache.ttlMs, replicaFillTtlMs: config.routing.maxReplicaLagMs });
    // the rate limit and the concurrency leases live in the limits Redis, which must not evict (per-pod budgets when there is none)
    const limits = config.limits.enabled
      ? TenantLimits.fromConfig(config.limits, { redis: limitsRedis?.redis, commandTimeoutMs: config.cache.commandTimeoutMs, poolMax: config.pool.max, logger, metrics })
      : undefined;
    const sessions = new TenantSessions({ placement, writeLeaseMs: config.placement.writeLeaseMs, registry, router, tokens: new ConsistencyTokens(config.encryption.keys, config.encryption.currentKeyId) });
    // distributed transactions: one coordinator per pod, its recovery loop finishing what any pod left; an erase revokes keys everywhere
    const keysRevoked = (tenantId: string) => void Promise.all([authenticator.invalidate(tenantId), cacheStack.bus?.publish({ kind: 'credentials', tenantId })]);
    const txDeps = { catalog, sessions, registry, products: productCache, logger, twoPhaseHooks: options.twoPhaseHooks, rows: moves.transfer, cache: cacheStack.cache, keysRevoked };
    const { coordinator, recovery } = distributedTransactions(txDeps, config.transactions);
    const tenantExists = async (id: string) => (await catalog.tenants.get(id)) !== undefined;
    const isolation = insights.isolation({ shards: fleetShards, shardOf: (id) => placement.table.shardFor(id).shardId, tenantExists, startMove: (id, to) => moves.jobs.startMove(id, to) });

    const tenant = createTenantApp({
      logger,
      metrics,
      requestFinished: insights.requestFinished,
      lifecycle,
      bodyLimit: config.http.bodyLimit,
      seriesBodyLimit: config.http.seriesBodyLimit,
      trustProxy: config.http.trustProxy,
      // as long as a move may hold the fence before it must have reached cutover (or rolled back)
      fencedWriteWaitMs: config.moves.fenceTimeoutMs,
      authenticator,
      placement,
      sessions,
      routingHeaders: config.routing.routingHeaders,
      reportNodeFailure: (node, err) => health.reportFailure(node, err),
      users: new UsersRepository(),
      products: new ProductsRepository(productCache),
      batches: new ProductBatches(productCache),
      batchMax: config.limits.batchMax,
      // orders drop cached products after commit: their stock changed
      orders: new OrdersRepository({ products: productCache }),
      analytics: new AnalyticsRepository(),
      audit: new AuditTrail(),
      comments: new CommentsRepository(),
      // points are accepted a day ahead at most: the keeper holds partitions aheadDays (≥ 2) ahead
      series: new SeriesRepository({ retentionDays: config.series.retentionDays, aheadMs: 86_400_000, maxBuckets: 10_000 }),
      transfers: { coordinator, transactions: catalog.transactions },
      limits,
    });
    const admin = createAdminApp({
      logger, lifecycle, adminToken: options.adminToken, trustProxy: config.http.trustProxy,
      adminAuthThrottle: new FailedAuthThrottle(config.limits.adminAuth),
      maxImportBytes: config.transfer.maxImportBytes,
      tenants: catalog.tenants, apiKeys: catalog.apiKeys, placement, registry, authenticator, metrics,
      moveJobs: moves.jobs, shardProvisioner: moves.provisioner, tenantTransfer: moves.transfer,
      partnerships: catalog.partnerships, transactions: catalog.transactions, eraser: coordinator, schemaChanges: schemaRollout,
      backups, shardIds: async () => (await fleetShards()).map((s) => s.id), queryStats: new QueryStats(registry),
      usage: insights.usage, slowQueries: insights.slowQueries, isolation, tenantExists,
      onTenantChanged: (tenantId) => void cacheStack.cache.invalidateTenant(tenantId),
      onKeyRevoked: (tenantId) => void cacheStack.bus?.publish({ kind: 'credentials', tenantId }),
    });

    const edge = (listener: 'tenant' | 'admin'): Omit<ListenerOptions, 'port' | 'requestTimeoutMs' | 'maxConnections'> => ({
      host: config.host,
      headersTimeoutMs: config.http.headersTimeoutMs,
      keepAliveTimeoutMs: config.http.keepAliveTimeoutMs,
      onConnectionRefused: () => metrics.connectionsRefused.inc({ listener }),
    });
    const tenantListener = await Listener.listen(tenant.app, {
      ...edge('tenant'), port: config.port, requestTimeoutMs: config.http.requestTimeoutMs, maxConnections: config.http.maxConnections,
    });
    // exports and imports stream for minutes: a longer request timeout, fewer connections
    const adminListener = await Listener.listen(admin.app, {
      ...edge('admin'), port: config.adminPort, requestTimeoutMs: config.http.adminRequestTimeoutMs, maxConnections: config.http.adminMaxConnections,
    });
    lifecycle.state = 'ready';
    // resumes the jobs, and finishes or undoes the transactions, of a gateway that died (after their lease ran out)
    moves.runner.start();
    recovery.start();
    schemaRollout.start();
    backups?.jobs.start();
    insights.start();
    logger.info({ port: tenantListener.port, adminPort: adminListener.port, shards: registry.all().map((s) => s.id) }, 'gateway ready');
    const routes = { tenant: tenant.routes, admin: admin.routes };
    return new Gateway(config, lifecycle, catalog, registry, health, placement, authenticator, sessions, cacheStack, tenantListener, adminListener, logger, moves, limits, seriesPartitions, routes, limitsRedis, recovery, schemaRollout, backups, insights);
  }

  get tenantUrl(): string {
    return this.tenantListener.url;
  }

  get adminUrl(): string {
    return this.adminListener.url;
  }

  /** Drain: readiness goes 503, in-flight requests finish, then every connection closes. */
  async stop(graceMs = this.config.http.shutdownGraceMs, drainDelayMs = this.config.http.drainDelayMs): Promise<void> {
    this.lifecycle.state = 'draining';
    // readiness is already 503: give load balancers time to notice before refusing connections
    if (drainDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, drainDelayMs));
    await Promise.all([this.tenantListener.close(graceMs), this.adminListener.close(graceMs)]);
    this.limits?.close();
    this.seriesPartitions.stop();
    // a transfer mid-drive ends its pass; what it leaves pending the next pod's recovery finishes
    await this.recovery.stop();
    await this.schemaRollout.stop();
    await this.backups?.jobs.stop();
    // moves short of cutover roll back and go back to the queue for another gateway
    await this.moves.runner.stop();
    this.placement.stop();
    await this.authenticator.stop();
    await this.health.stop();
    // its last counts flushed while Redis is still open
    await this.insights.stop();
    await this.cacheStack.close();
    this.limitsRedis?.check.stop();
    if (this.limitsRedis) closeRedisClient(this.limitsRedis.redis);
    await this.registry.close();
    await this.catalog.close();
    this.logger.info('gateway stopped');
  }
}
