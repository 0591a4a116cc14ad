import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { closeRedisClient, createRedisClient } from '../cache/redis-client.js';
import type { GatewayConfig } from '../config/gateway-config.js';
import type { GatewayMetrics } from '../telemetry/gateway-metrics.js';
import type { RedisTls } from '../transport/redis-tls.js';
import { BucketEvictionCheck, RedisEvictsRateLimitsError } from './bucket-eviction-check.js';

/**
 * The Redis keeping rate-limit buckets (`limits.redis`, else the main one), on a client of
 * its own, and the check of its eviction policy. In production an evicting policy stops the
 * start: buckets evicted under memory pressure come back full, so limits silently lapse.
 */
export async function openLimitsRedis(config: Readonly<GatewayConfig>, redisTls: RedisTls, metrics: GatewayMetrics, logger: Logger): Promise<{ redis: Redis; check: BucketEvictionCheck } | undefined> {
  const url = config.limits.redis ?? config.redis;
  if (!config.limits.enabled || url === undefined) return undefined;
  const redis = createRedisClient(url, {
    name: 'shardgate-limits',
    commandTimeoutMs: config.cache.commandTimeoutMs,
    connectTimeoutMs: config.cache.connectTimeoutMs,
    tls: redisTls.options(url),
    logger,
  });
  const check = new BucketEvictionCheck(redis, {
    intervalMs: config.limits.evictionCheckIntervalMs,
    readyTimeoutMs: config.cache.connectTimeoutMs + config.cache.commandTimeoutMs,
    logger,
    onVerdict: (v) => metrics.limitsRedisEvicting.set(v.state === 'evicts' ? 1 : v.state === 'safe' ? 0 : -1),
  });
  const verdict = await check.check();
  if (verdict.state === 'evicts' && config.nodeEnv === 'production') {
    closeRedisClient(redis);
    throw new RedisEvictsRateLimitsError(verdict.policy);
  }
  check.start();
  return { redis, check };
}

