import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { cacheKeys } from './cache-keys.js';
import type { SharedLookup, SharedMiss, SharedTier } from './shared-tier.js';

/** Values are JSON, which never starts with `!`, so a tombstone can never be read as a value. */
const TOMBSTONE = '!tomb:';

/**
 * Compare-and-set: store the value only if the key still holds what the loader saw
 * before it read the database. An invalidation in between replaced that with a new
 * tombstone, so a load that began before a write can never put its result back.
 */
const FILL_SCRIPT = `
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`;

export interface RedisTierOptions {
  readonly logger: Logger;
  /**
   * How long an invalidated key keeps its tombstone. Fills from reads older than half
   * of it are dropped, so a tombstone can never expire under a racing load.
   */
  readonly tombstoneTtlMs: number;
  /** keys whose tombstone failed, kept to retry when Redis is back; past this TTLs bound staleness */
  readonly maxPendingTombstones?: number;
  /** keys visited per SCAN call of a tenant invalidation */
  readonly scanCount?: number;
  readonly now?: () => number;
}

/** The Redis side of the read-through cache: JSON values, tombstones, compare-and-set fills. */
export class RedisTier implements SharedTier {
  readonly #sha = createHash('sha1').update(FILL_SCRIPT).digest('hex');
  readonly #pending = new Set<string>();
  readonly #now: () => number;
  #overflowLogged = false;
  readonly #onReady = () => void this.#replay();

  constructor(
    private readonly redis: Redis,
    private readonly options: RedisTierOptions,
  ) {
    this.#now = options.now ?? Date.now;
    redis.on('ready', this.#onReady);
  }

  async get(key: string): Promise<SharedLookup> {
    const at = this.#now();
    const raw = await this.redis.get(key);
    if (raw === null) return { kind: 'miss', snapshot: '', at };
    if (raw.startsWith(TOMBSTONE)) return { kind: 'miss', snapshot: raw, at };
    return { kind: 'hit', json: raw };
  }

  async fill(key: string, json: string, ttlMs: number, miss: SharedMiss): Promise<boolean> {
    // past this the tombstone a racing write left may have expired, and '' would match again
    if (this.#now() - miss.at > this.options.tombstoneTtlMs / 2) return false;
    const args = [key, miss.snapshot, json, String(Math.max(1, Math.round(ttlMs)))];
    let reply: unknown;
    try {
      reply = await this.redis.evalsha(this.#sha, 1, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      // first use after a Redis restart or SCRIPT FLUSH: EVAL loads it again
      reply = await this.redis.eval(FILL_SCRIPT, 1, ...args);
    }
    return reply === 1;
  }

  async tombstone(keys: readonly string[]): Promise<void> {
    const token = `${TOMBSTONE}${randomUUID()}`;
    try {
      await Promise.all(keys.map((key) => this.redis.set(key, token, 'PX', this.options.tombstoneTtlMs)));
      for (const key of keys) this.#pending.delete(key);
      if (this.#pending.size === 0) this.#overflowLogged = false;
    } catch (err) {
      this.#remember(keys);
      throw err;
    }
  }

  async tombstoneTenant(tenantId: string): Promise<number> {
    const token = `${TOMBSTONE}${randomUUID()}`;
    const pattern = `${cacheKeys.tenantPrefix(tenantId)}*`;
    let cursor = '0';
    let count = 0;
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', this.options.scanCount ?? 1000);
      // XX: only keys that exist; a key created after the scan passed it is bounded by its TTL
      await Promise.all(keys.map((key) => this.redis.set(key, token, 'PX', this.options.tombstoneTtlMs, 'XX')));
      count += keys.length;
      cursor = next;
    } while (cursor !== '0');
    return count;
  }

  /** How many failed tombstones wait for Redis to come back. */
  get pendingTombstones(): number {
    return this.#pending.size;
  }

  close(): void {
    this.redis.off('ready', this.#onReady);
  }

  #remember(keys: readonly string[]): void {
    const max = this.options.maxPendingTombstones ?? 10_000;
    for (const key of keys) {
      if (this.#pending.size >= max) {
        if (!this.#overflowLogged) this.options.logger.warn({ max }, 'too many failed invalidations to retry; TTLs bound the rest');
        this.#overflowLogged = true;
        return;
      }
      this.#pending.add(key);
    }
  }

  async #replay(): Promise<void> {
    if (this.#pending.size === 0) return;
    const keys = [...this.#pending];
    try {
      await this.tombstone(keys);
      this.options.logger.info({ keys: keys.length }, 'failed invalidations replayed');
    } catch {
      // still remembered; the next ready tries again
    }
  }
}
