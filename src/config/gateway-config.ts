import { z } from 'zod';
import { adminTokenWeakness } from './admin-token-strength.js';
import { movesConfigShape, placementConfigShape } from './moves-config.js';
import { insightsConfigShape } from './insights-config.js';

const shardIdShape = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes');
const postgresUrl = z.string().regex(/^postgres(ql)?:\/\//, 'a postgres:// URL');
const redisUrl = z.string().regex(/^rediss?:\/\//, 'a redis:// or rediss:// URL');
/** a host name a server's certificate must carry */
const tlsServername = z.string().min(1).max(253).regex(/^[A-Za-z0-9.*-]+$/, 'a host name');

/** A replica is a URL, or a named URL when the operator wants a stable name in headers and metrics. */
export const replicaConfigShape = z.union([postgresUrl, z.object({ name: z.string().min(1), url: postgresUrl }).strict()]);

export const shardConfigShape = z
  .object({
    id: shardIdShape,
    primary: postgresUrl,
    replicas: z.array(replicaConfigShape).default([]),
    weight: z.number().int().min(1).max(10_000).optional(),
    /** the same nodes as the privileged role (moves, migrations, export/import); absent: the URLs above serve both */
    admin: z.object({ primary: postgresUrl, replicas: z.array(replicaConfigShape).default([]) }).strict().optional(),
  })
  .strict();

/** One plan's token bucket. */
export const planLimitsShape = z
  .object({
    /** tokens added per second: the sustained request rate */
    ratePerSec: z.number().positive().max(1_000_000),
    /** bucket size: the largest burst after a quiet spell */
    burst: z.number().int().min(1).max(10_000_000),
  })
  .strict();

export const gatewayConfigShape = z
  .object({
    nodeEnv: z.string().default('development'),
    port: z.number().int().min(0).max(65535),
    adminPort: z.number().int().min(0).max(65535),
    /** address both listeners bind; absent: 127.0.0.1 on the embedded default, 0.0.0.0 with a catalog (see withDefaultHost) */
    host: z.string().min(1).optional(),
    /** admin bearer token (strength checked below); generated and printed when unset outside production */
    adminToken: z.string().optional(),
    /** control-plane database; when absent the gateway runs the embedded default */
    catalog: postgresUrl.optional(),
    redis: redisUrl.optional(),
    /** TLS of every `rediss://` URL (cache and limits): the CA file (PEM) and the name the servers' certificates carry */
    redisTls: z.object({ ca: z.string().min(1).optional(), servername: tlsServername.optional() }).strict().optional(),
    shards: z.array(shardConfigShape),
    embedded: z.object({ dataDir: z.string(), shardCount: z.number().int().min(1).max(8) }).strict(),
    routing: z
      .object({
        maxReplicaLagMs: z.number().int().min(0),
        maxReplicaLagBytes: z.number().int().min(0),
        healthIntervalMs: z.number().int().min(10),
        healthTimeoutMs: z.number().int().min(10),
        routingHeaders: z.boolean(),
      })
      .strict(),
    pool: z
      .object({
        max: z.number().int().min(1),
        min: z.number().int().min(0),
        idleMs: z.number().int().min(0),
        acquireMs: z.number().int().min(1),
      })
      .strict(),
    db: z
      .object({
        statementTimeoutMs: z.number().int().min(0),
        idleInTransactionTimeoutMs: z.number().int().min(0),
        connectTimeoutMs: z.number().int().min(1),
        /**
         * a role every tenant-scoped statement takes (SET LOCAL ROLE), for shard URLs that
         * log in as a privileged role; the embedded default sets shardgate_request
         */
        requestRole: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/).optional(),
        /**
         * the hot statements (point reads, creates) as named prepared statements, parsed once
         * per connection; off behind a pooler in transaction mode that does not keep them
         * (PgBouncer before 1.21), or to measure what they buy
         */
        preparedStatements: z.boolean().default(true),
        /**
         * TLS of every PostgreSQL connection (shards, catalog, migrations, moves), libpq's
         * sslmode meanings; TLS parameters in URLs are dropped, only this applies
         */
        tls: z
          .object({
            mode: z.enum(['disable', 'prefer', 'require', 'verify-ca', 'verify-full']),
            /** PEM file (or a directory of them) of the CA(s) that sign the servers' certificates, read once at start */
            ca: z.string().min(1).optional(),
            /** verify-full: the name every server's certificate must carry instead of the URL's host */
            servername: tlsServername.optional(),
          })
          .strict(),
      })
      .strict(),
    http: z
      .object({
        bodyLimit: z.string(),
        /** the body limit of POST /v1/series (up to 10,000 points a request) */
        seriesBodyLimit: z.string().default('4mb'),
        trustProxy: z.boolean(),
        /** after SIGTERM, keep serving this long with /readyz at 503, so load balancers stop sending first */
        drainDelayMs: z.number().int().min(0).default(0),
        /** then wait at most this long for in-flight requests before cutting connections */
        shutdownGraceMs: z.number().int().min(0).default(10_000),
        /** ms a client has to send a whole request (headers and body) to the tenant API; later: 408 */
        requestTimeoutMs: z.number().int().min(100).default(30_000),
        /** the same on the admin API, where imports stream large bodies */
        adminRequestTimeoutMs: z.number().int().min(100).default(600_000),
        /** ms a client has to send a request's headers, on both listeners (below both request timeouts) */
        headersTimeoutMs: z.number().int().min(50).default(10_000),
        /** ms an idle keep-alive connection stays open: longer than load balancers' idle timeout (60 s), so they close first */
        keepAliveTimeoutMs: z.number().int().min(0).default(65_000),
        /** connections open at once on the tenant listener; more are closed as they arrive (and counted) */
        maxConnections: z.number().int().min(1).default(4096),
        /** the same on the admin listener */
        adminMaxConnections: z.number().int().min(1).default(256),
      })
      .strict(),
    tenants: z
      .object({
        /** a known key is looked up again (in the background) after this long */
        cacheTtlMs: z.number().int().min(0),
        /** an unknown key is refused from memory for this long */
        negativeCacheTtlMs: z.number().int().min(0),
        /** a known key keeps working this long while the catalog cannot be asked */
        staleIfErrorMs: z.number().int().min(0),
        /** how often each gateway checks the catalog's keys version (revocations, suspensions) */
        keysWatchIntervalMs: z.number().int().min(50),
        /** how often the keys' lastUsedAt is written */
        usageFlushMs: z.number().int().min(100),
        /** catalog lookups finding no key, per client address: rate and burst */
        lookupsPerSecondPerClient: z.number().positive(),
        lookupBurstPerClient: z.number().int().min(1),
        /** catalog key lookups at once per gateway, and waiting */
        maxConcurrentLookups: z.number().int().min(1),
        maxQueuedLookups: z.number().int().min(0),
      })
      .strict(),
    security: z
      .object({
        scryptCost: z.number().int().min(2),
        /** scrypt computations at once (each takes one of libuv's 4 threads) */
        scryptConcurrency: z.number().int().min(1).max(4).default(2),
        /** password hashes waiting for a slot; more are refused with 503 HASHING_BUSY */
        scryptMaxQueued: z.number().int().min(0).max(10_000).default(64),
        /** host patterns (`*` within a name) that POST /admin/shards may connect to */
        shardHosts: z.array(z.string().min(1).max(253)).max(100),
      })
      .strict(),
    encryption: z
      .object({
        /** id of the key new values are encrypted with */
        currentKeyId: z.string().min(1),
        /** key id → base64 of 32 random bytes; keep retired keys until every row is re-encrypted */
        keys: z.record(z.string(), z.string()),
      })
      .strict(),
    cache: z
      .object({
        /** false: every read goes to the database (benchmarks, debugging) */
        enabled: z.boolean(),
        /** in-process tier, used only while the invalidation subscriber is connected */
        localTtlMs: z.number().int().min(0),
        /** bytes the in-process tier may hold (entries are weighed as UTF-16 JSON text) */
        localMaxBytes: z.number().int().min(0),
        /** a value heavier than this is served from Redis only, never kept in-process */
        localMaxEntryBytes: z.number().int().min(0),
        ttlMs: z.number().int().min(1),
        commandTimeoutMs: z.number().int().min(1),
        connectTimeoutMs: z.number().int().min(1),
      })
      .strict(),
    limits: z
      .object({
        batchMax: z.number().int().min(1).max(10_000),
        /** the Redis keeping rate-limit buckets (must not evict them); absent: the main `redis` */
        redis: redisUrl.optional(),
        /** ms between checks of the limits Redis's maxmemory-policy */
        evictionCheckIntervalMs: z.number().int().min(1000).default(60_000),
        /** false: no per-tenant rate limit and no concurrency cap (benchmarks of the bare gateway) */
        enabled: z.boolean(),
        /** token bucket per plan, shared across pods through Redis; tenants of an unlisted plan get `standard` */
        plans: z
          .record(z.string().min(1), planLimitsShape)
          .refine((plans) => Object.hasOwn(plans, 'standard'), 'must define the "standard" plan'),
        /** gateway pods sharing the budget: while Redis is unreachable each pod allows plan ÷ pods */
        expectedPods: z.number().int().min(1).max(10_000),
        /**
         * most tokens a pod leases from the shared bucket per Redis call, spending them without
         * one (1: a Redis call per request, exact across pods); see limits/tenant-rate-limiter.ts
         */
        leaseMax: z.number().int().min(1).max(1000),
        /** ms leased tokens stay spendable */
        leaseTtlMs: z.number().int().min(10).max(60_000),
        /**
         * requests of one tenant doing database work at once across every pod (leased in Redis);
         * while Redis cannot answer, each pod allows this ÷ expectedPods
         */
        maxConcurrentPerTenant: z.number().int().min(1).max(10_000),
        /** requests doing database work at once on one shard, every tenant and pod together; per pod ÷ expectedPods without Redis */
        shardConcurrency: z.number().int().min(1).max(1_000_000),
        /** ms a concurrency slot's lease counts without renewal: a killed pod's slots come back after this (running requests renew every third of it) */
        concurrencyLeaseTtlMs: z.number().int().min(300).max(60_000),
        /**
         * ms a released slot stays leased to its pod for the tenant's next request on the shard,
         * saving that request's two Redis round trips; others may find it taken that much longer
         */
        slotLingerMs: z.number().int().min(0).max(1000).default(25),
        /** requests of one tenant waiting (on this pod) for a slot; more are refused at once */
        maxQueuedPerTenant: z.number().int().min(0).max(100_000),
        /** max ms a request waits for a slot before a 429 (the tenant's cap) or 503 (the shard's) */
        queueTimeoutMs: z.number().int().min(0).max(60_000),
        /** wrong admin tokens per client address (IPv6: per /64) before the address is refused, even with the right token */
        adminAuth: z
          .object({
            maxFailures: z.number().int().min(1).max(10_000).default(10),
            /** the window the failures are counted in, from the first; the address is refused until it ends */
            windowMs: z.number().int().min(1000).max(86_400_000).default(300_000),
            /** client addresses remembered at most (memory bound) */
            maxClients: z.number().int().min(100).max(1_000_000).default(10_000),
          })
          .strict()
          .default({ maxFailures: 10, windowMs: 300_000, maxClients: 10_000 }),
      })
      .strict(),
    /** tenant export and import (admin API) */
    transfer: z
      .object({
        /** bytes an import body may have, counted as it streams; past it 413 and nothing is imported */
        maxImportBytes: z.number().int().min(1).default(256 * 1024 * 1024),
      })
      .strict()
      .default({ maxImportBytes: 256 * 1024 * 1024 }),
    /** time series (POST/GET /v1/series) */
    series: z
      .object({
        /** days of points kept; older day partitions (and rollups) are dropped, older points refused */
        retentionDays: z.number().int().min(1).max(3650).default(30),
        /** day partitions kept ready ahead of today (and points accepted up to a day ahead) */
        aheadDays: z.number().int().min(2).max(60).default(3),
        /** ms between the partition keeper's rounds over the shards */
        maintenanceIntervalMs: z.number().int().min(1000).default(600_000),
      })
      .strict()
      .default({ retentionDays: 30, aheadDays: 3, maintenanceIntervalMs: 600_000 }),
    /** distributed transactions: transfers between tenants (saga, two-phase commit) */
    transactions: z
      .object({
        /** ms between recovery passes on every pod: pending transactions nobody holds are finished or undone */
        recoveryIntervalMs: z.number().int().min(100).max(600_000).default(2000),
        /** ms a pod's claim on a transaction holds; a dead pod's are taken over after it */
        leaseMs: z.number().int().min(1000).max(600_000).default(10_000),
        /** ms a request drives its transfer before it answers 202 pending and leaves the rest to recovery */
        requestWaitMs: z.number().int().min(100).max(60_000).default(5000),
      })
      .strict()
      .refine((t) => t.requestWaitMs < t.leaseMs, { path: ['requestWaitMs'], message: 'must be shorter than leaseMs (a request drives only while it holds the lease)' })
      .default({ recoveryIntervalMs: 2000, leaseMs: 10_000, requestWaitMs: 5000 }),
    /** tenant moves, rebalancing and draining (docs/moves.md) */
    /** online schema changes (issue 17): operator DDL and the project's migrations, shard by shard */
    schemaChanges: z
      .object({
        /** ms a statement may wait for its table lock before it gives way to the traffic and retries */
        lockTimeoutMs: z.number().int().min(100).max(60_000).default(2000),
        /** heap blocks (8 kB each) one backfill batch updates, in one short transaction */
        backfillBatchBlocks: z.number().int().min(1).max(100_000).default(32),
        /** a backfill's rate limit in rows a second, per shard; 0: unlimited */
        backfillRowsPerSecond: z.number().int().min(0).max(10_000_000).default(20_000),
      })
      .strict()
      .default({ lockTimeoutMs: 2000, backfillBatchBlocks: 32, backfillRowsPerSecond: 20_000 }),
    /**
     * base backups and point-in-time restore with PostgreSQL's own tools (issue 18), where the
     * gateway runs beside the servers' files (the local cluster writes this block); absent:
     * backups are the platform's (CloudNativePG on Kubernetes) and the API says so
     */
    backups: z
      .object({
        /** where base backups go, one directory per shard and backup */
        dir: z.string().min(1),
        /** each shard primary's WAL archive: `<archiveDir>/<shard id>/` (its archive_command writes there) */
        archiveDir: z.string().min(1),
        /** pg_basebackup, pg_ctl, postgres, pg_archivecleanup */
        pgBinDir: z.string().min(1),
        /** the OS user the PostgreSQL tools run as when the gateway runs as root (PostgreSQL refuses root) */
        osUser: z.string().min(1).default('postgres'),
        /** base backups kept per shard; older ones go, with the WAL only they needed */
        keep: z.number().int().min(1).max(1000).default(7),
      })
      .strict()
      .optional(),
    placement: placementConfigShape,
    moves: movesConfigShape,
    insights: insightsConfigShape,
    telemetry: z
      .object({
        /**
         * share of new traces recorded: parent-based, so a request whose caller sampled its
         * trace is always traced; read at process start, and OTEL_TRACES_SAMPLER (with
         * OTEL_TRACES_SAMPLER_ARG) replaces it
         */
        traceSampleRatio: z.number().min(0).max(1),
      })
      .strict(),
    log: z
      .object({
        level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
        /** queries slower than this are logged (SQL with literals masked) and counted */
        slowQueryMs: z.number().int().min(0).default(200),
        /**
         * `json` (one object a line, for collectors), `pretty` (human-readable, coloured), or
         * `auto`: pretty in development when stdout is a terminal, JSON everywhere else
         */
        format: z.enum(['auto', 'json', 'pretty']).default('auto'),
      })
      .strict(),
  })
  .strict()
  .superRefine((config, ctx) => {
    const ids = new Set<string>();
    for (const [i, shard] of config.shards.entries()) {
      if (ids.has(shard.id)) ctx.addIssue({ code: 'custom', path: ['shards', i, 'id'], message: `duplicate shard id ${shard.id}` });
      ids.add(shard.id);
    }
    if (config.catalog !== undefined && config.shards.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['shards'], message: 'a catalog needs at least one shard to seed it' });
    }
    if (!(config.encryption.currentKeyId in config.encryption.keys)) {
      ctx.addIssue({ code: 'custom', path: ['encryption', 'currentKeyId'], message: 'must name one of encryption.keys' });
    }
    if (config.nodeEnv === 'production' && config.encryption.currentKeyId === 'dev') {
      ctx.addIssue({ code: 'custom', path: ['encryption', 'currentKeyId'], message: 'the published development key cannot be used in production: set SHARDGATE_ENCRYPTION_KEYS' });
    }
    if (config.db.tls.mode === 'verify-ca' && config.db.tls.ca === undefined) {
      ctx.addIssue({ code: 'custom', path: ['db', 'tls', 'ca'], message: 'verify-ca needs the CA that signs the servers (a PEM file)' });
    }
    if (config.nodeEnv === 'production' && config.adminToken === undefined) {
      ctx.addIssue({ code: 'custom', path: ['adminToken'], message: 'GATEWAY_ADMIN_TOKEN is required in production' });
    }
    // in every mode: a token someone chose is checked; the one the gateway generates when none is set is random
    const weakness = config.adminToken === undefined ? undefined : adminTokenWeakness(config.adminToken);
    if (weakness !== undefined) ctx.addIssue({ code: 'custom', path: ['adminToken'], message: `GATEWAY_ADMIN_TOKEN ${weakness}` });
    const { headersTimeoutMs, requestTimeoutMs, adminRequestTimeoutMs } = config.http;
    if (headersTimeoutMs >= Math.min(requestTimeoutMs, adminRequestTimeoutMs)) {
      ctx.addIssue({ code: 'custom', path: ['http', 'headersTimeoutMs'], message: 'must be below http.requestTimeoutMs and http.adminRequestTimeoutMs' });
    }
  })
  .transform(withDefaultHost);

/**
 * The embedded default listens on loopback only: it is a developer's machine, and the
 * gateway's PGlite backends sit behind it. A configured catalog means a deployment, where
 * the listeners must be reachable from the network (Kubernetes sets HOST explicitly too).
 */
function withDefaultHost<T extends { host?: string | undefined; catalog?: string | undefined }>(config: T): T & { host: string } {
  return { ...config, host: config.host ?? (config.catalog === undefined ? '127.0.0.1' : '0.0.0.0') };
}

export type GatewayConfig = z.infer<typeof gatewayConfigShape>;
export type ShardConfig = z.infer<typeof shardConfigShape>;
export type ReplicaConfig = z.infer<typeof replicaConfigShape>;
export type InsightsConfig = GatewayConfig['insights'];
