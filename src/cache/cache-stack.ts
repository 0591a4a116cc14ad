import type { Redis } from 'ioredis';
import type { ConnectionOptions } from 'node:tls';
import type { Logger } from 'pino';
import { createRedisClient, closeRedisClient } from './redis-client.js';
import { RedisTier } from './redis-tier.js';
import { InvalidationBus } from './invalidation-bus.js';
import { ReadThroughCache, type CacheResult } from './read-through-cache.js';

export interface CacheStackOptions {
  /** absent: in-process cache only (a single gateway process, e.g. the embedded default) */
  readonly redisUrl: string | undefined;
  readonly ttlMs: number;
  readonly localTtlMs: number;
  /** bounds of the in-process tier: bytes in all, bytes of one entry */
  readonly localMaxBytes: number;
  readonly localMaxEntryBytes: number;
  readonly commandTimeoutMs: number;
  readonly connectTimeoutMs: number;
  /** tls.connect options for a `rediss://` URL */
  readonly tls?: ConnectionOptions | undefined;
  readonly logger: Logger;
  readonly onResult?: (result: CacheResult) => void;
}

/** The Redis client, its invalidation bus and the read-through cache over them, closed together. */
export class CacheStack {
  private constructor(
    readonly cache: ReadThroughCache,
    readonly bus: InvalidationBus | undefined,
    /** the fail-fast client, shared with the per-tenant rate limiter; absent without Redis */
    readonly redis: Redis | undefined,
  ) {}

  static create(options: CacheStackOptions): CacheStack {
    const common = {
      logger: options.logger,
      ttlMs: options.ttlMs,
      localTtlMs: options.localTtlMs,
      maxLocalBytes: options.localMaxBytes,
      maxLocalEntryBytes: options.localMaxEntryBytes,
      ...(options.onResult ? { onResult: options.onResult } : {}),
    };
    if (options.redisUrl === undefined) return new CacheStack(new ReadThroughCache({ ...common, backend: { kind: 'localOnly' } }), undefined, undefined);
    const redis = createRedisClient(options.redisUrl, {
      name: 'shardgate-cache',
      commandTimeoutMs: options.commandTimeoutMs,
      connectTimeoutMs: options.connectTimeoutMs,
      tls: options.tls,
      logger: options.logger,
    });
    const bus = new InvalidationBus(redis, { logger: options.logger, name: 'shardgate-invalidations', heartbeatMs: 1000 });
    // a tombstone must outlive the slowest racing load: several command timeouts plus a query
    const tier = new RedisTier(redis, { logger: options.logger, tombstoneTtlMs: Math.max(10_000, options.commandTimeoutMs * 20) });
    bus.start();
    return new CacheStack(new ReadThroughCache({ ...common, backend: { kind: 'shared', tier, bus } }), bus, redis);
  }

  async close(): Promise<void> {
    this.cache.close();
    this.bus?.close();
    if (this.redis) closeRedisClient(this.redis);
  }
}
