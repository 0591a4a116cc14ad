import { Redis, type RedisOptions } from 'ioredis';
import type { ConnectionOptions } from 'node:tls';
import type { Logger } from 'pino';

export interface RedisClientOptions {
  /** max ms one command may take; past it the command fails and the cache treats it as a miss */
  readonly commandTimeoutMs: number;
  /** max ms for the TCP connect (the handshake after it is bounded by commandTimeoutMs) */
  readonly connectTimeoutMs: number;
  /** connection name in `CLIENT LIST` and in log lines */
  readonly name: string;
  readonly logger: Logger;
  /** ms without a byte while commands are pending before the socket counts as dead (a hung server); default max(1000, 5 × commandTimeoutMs) */
  readonly socketTimeoutMs?: number;
  /** cap of the reconnect backoff; default 2000 */
  readonly maxReconnectDelayMs?: number;
  /** tls.connect options for a `rediss://` URL; absent: plain text */
  readonly tls?: ConnectionOptions | undefined;
}

/**
 * Options for a cache client: fail fast, never queue, never give up reconnecting.
 * Shared by `createRedisClient` and the subscriber duplicate, which inherits them.
 */
export function cacheClientOptions(options: RedisClientOptions): RedisOptions {
  const maxDelay = options.maxReconnectDelayMs ?? 2000;
  return {
    connectionName: options.name,
    commandTimeout: options.commandTimeoutMs,
    connectTimeout: options.connectTimeoutMs,
    // a graceful close waits this long for the server's FIN; a hung server never sends it
    disconnectTimeout: options.commandTimeoutMs,
    // a hung server (SIGSTOP, a dead peer without RST) keeps the socket "ready" forever; this drops it
    socketTimeout: options.socketTimeoutMs ?? Math.max(1000, 5 * options.commandTimeoutMs),
    // 0: commands in flight fail as soon as the connection drops (1 would keep them for one reconnect)
    maxRetriesPerRequest: 0,
    // a command whose caller already gave up must never run later, after a reconnect
    autoResendUnfulfilledCommands: false,
    // while disconnected commands fail at once instead of waiting in a queue
    enableOfflineQueue: false,
    // capped exponential backoff with jitter; returning a number means never give up
    retryStrategy: (attempt: number) => Math.min(50 * 2 ** Math.min(attempt - 1, 16), maxDelay) + Math.floor(Math.random() * 100),
    // commands issued in one tick go out in one write: measured ~2x the throughput of Redis
    // hits at 64 concurrent requests, for ~15 µs more on a lone command
    enableAutoPipelining: true,
    lazyConnect: false,
    ...(options.tls === undefined ? {} : { tls: options.tls }),
  };
}

/**
 * A Redis client configured as a cache accelerator: a dead or hung Redis costs a request
 * at most about one command timeout, and the process neither crashes nor floods the log.
 */
export function createRedisClient(url: string, options: RedisClientOptions): Redis {
  const redis = new Redis(url, cacheClientOptions(options));
  watchConnection(redis, options.logger, options.name);
  return redis;
}

/**
 * Handles `error` (without a listener ioredis prints every failed reconnect to stderr)
 * and logs each change between up and down once, not each retry. Call it on every
 * `duplicate()` too: a duplicate copies the options but none of the listeners.
 * Returns a function that detaches the listeners.
 */
export function watchConnection(redis: Redis, logger: Logger, name: string): () => void {
  let state: 'unknown' | 'up' | 'down' = 'unknown';
  const onReady = () => {
    if (state !== 'up') logger.info({ redis: name }, 'redis connection ready');
    state = 'up';
  };
  const onError = (err: Error) => {
    if (state !== 'down') logger.warn({ redis: name, err: err.message }, 'redis unavailable; reconnecting');
    state = 'down';
  };
  const onClose = () => {
    if (state === 'up') logger.warn({ redis: name }, 'redis connection lost; reconnecting');
    if (state === 'up') state = 'down';
  };
  redis.on('ready', onReady);
  redis.on('error', onError);
  redis.on('close', onClose);
  return () => {
    redis.off('ready', onReady);
    redis.off('close', onClose);
    // keep swallowing errors a closing client may still emit
    redis.off('error', onError);
    redis.on('error', () => undefined);
  };
}

/**
 * Closes a cache client. `quit()` is no good here: with the offline queue off it fails
 * while Redis is down and the client keeps reconnecting (and mocha never exits).
 */
export function closeRedisClient(redis: Redis): void {
  redis.disconnect(false);
}
