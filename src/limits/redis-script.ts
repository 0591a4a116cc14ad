import { createHash } from 'node:crypto';
import { context } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import type { Redis } from 'ioredis';

/** Redis gave no answer within the bound a limiter allows it: decide without it. */
export class RedisTimeoutError extends Error {}

/**
 * One Lua script run on Redis by its SHA (EVALSHA), loaded again with EVAL when Redis has
 * forgotten it (a restart, SCRIPT FLUSH, a failover), and bounded in time as a whole. The
 * limiters' scripts are bookkeeping, not work of the request that happens to run them, so
 * they make no spans.
 */
export class RedisScript {
  readonly sha: string;

  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /**
   * The script's reply, or a rejection after `timeoutMs`. ioredis bounds each command by its
   * own timeout; this bounds the whole exchange, the NOSCRIPT retry included.
   */
  run(redis: Redis, keys: readonly string[], args: readonly string[], timeoutMs: number): Promise<unknown> {
    return bounded(this.#run(redis, keys, args), timeoutMs);
  }

  async #run(redis: Redis, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    const untraced = suppressTracing(context.active());
    try {
      return await context.with(untraced, () => redis.evalsha(this.sha, keys.length, ...keys, ...args));
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return await context.with(untraced, () => redis.eval(this.source, keys.length, ...keys, ...args));
    }
  }
}

function bounded<T>(work: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RedisTimeoutError(`no answer from Redis within ${timeoutMs} ms`)), timeoutMs);
  });
  // a late rejection after the timeout won must not surface as unhandled
  work.catch(() => undefined);
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
