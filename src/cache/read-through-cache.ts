import { SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { TtlCache } from './ttl-cache.js';
import { cacheKeys } from './cache-keys.js';
import { FlightTable, type Flight } from './flight-table.js';
import { CacheAttr, CacheSpan, TRACER_NAME } from './cache-telemetry.js';
import type { InvalidationEnvelope } from './invalidation-message.js';
import type { InvalidationChannel, SharedLookup, SharedMiss, SharedTier } from './shared-tier.js';

export type CacheResult = 'hit' | 'miss' | 'error';

/** what a Map entry and its bookkeeping cost beyond the two strings (an estimate) */
const ENTRY_OVERHEAD_BYTES = 96;
export type CacheSource = 'local' | 'redis' | 'loaded';

export type CacheBackend =
  /** Redis plus invalidations over pub/sub: correct with any number of gateway processes */
  | { readonly kind: 'shared'; readonly tier: SharedTier; readonly bus: InvalidationChannel }
  /** in-process only: correct for a SINGLE gateway process only, as no other process can invalidate it */
  | { readonly kind: 'localOnly' };

export interface ReadThroughCacheOptions {
  readonly backend: CacheBackend;
  readonly logger: Logger;
  /** default TTL of an entry: in Redis, or in-process in localOnly mode */
  readonly ttlMs: number;
  /** TTL in-process in shared mode: how long this process serves an entry without asking Redis */
  readonly localTtlMs: number;
  /** bounds of the in-process tier (entries, bytes, bytes of one entry); the least recently used entry goes first */
  readonly maxLocalEntries?: number;
  readonly maxLocalBytes?: number;
  readonly maxLocalEntryBytes?: number;
  /** one call per getOrLoad, for hit-ratio metrics */
  readonly onResult?: (result: CacheResult) => void;
}

export interface CacheRead<T> {
  readonly value: T | undefined;
  readonly source: CacheSource;
}

type Outcome =
  | { readonly ok: true; readonly result: CacheResult; readonly source: 'redis' | 'loaded'; readonly json: string | undefined }
  | { readonly ok: false; readonly result: CacheResult; readonly error: unknown };

/**
 * A read-through cache for hot reads: in-process tier, then Redis, then the loader.
 *
 * - Values are stored as JSON and every caller gets its own parsed copy, also on a miss,
 *   so a value looks the same whichever tier served it (a Date comes back as a string).
 * - `undefined` (not found) is never cached: a create needs no invalidation to be seen.
 * - The in-process tier is used only while the invalidation bus is subscribed, and is
 *   flushed on every (re)subscription, because pub/sub drops messages while disconnected.
 * - A Redis error or timeout counts as `error` and the value is loaded: Redis only speeds
 *   reads up. Added latency is bounded by the client's command timeout (GET, then fill).
 */
export class ReadThroughCache {
  readonly #local: TtlCache<string, string>;
  readonly #flights = new FlightTable<Outcome>();
  readonly #tracer: Tracer = trace.getTracer(TRACER_NAME);
  readonly #unsubscribe: Array<() => void> = [];
  #closed = false;

  constructor(private readonly options: ReadThroughCacheOptions) {
    // keys and values come from clients (a product may be ~100 KB): weigh them, not just count them
    this.#local = new TtlCache(options.maxLocalEntries ?? 10_000, Date.now, {
      maxBytes: options.maxLocalBytes ?? 32 * 1024 * 1024,
      maxEntryBytes: options.maxLocalEntryBytes ?? 64 * 1024,
      sizeOf: (json, key) => 2 * (json.length + key.length) + ENTRY_OVERHEAD_BYTES,
    });
    const { backend } = options;
    if (backend.kind === 'shared') {
      this.#unsubscribe.push(
        backend.bus.onMessage((message, own) => this.#apply(message, own)),
        backend.bus.onReconnect(() => this.#flushLocal()),
      );
    }
  }

  async getOrLoad<T>(key: string, load: () => Promise<T | undefined>, options: { ttlMs?: number } = {}): Promise<CacheRead<T>> {
    if (this.#localUsable()) {
      const json = this.#local.get(key);
      if (json !== undefined) {
        this.options.onResult?.('hit');
        return { value: JSON.parse(json) as T, source: 'local' };
      }
    } else if (this.#local.size > 0) {
      // unusable until the bus resubscribes (which flushes again); free the memory now
      this.#local.clear();
    }
    const ttlMs = options.ttlMs ?? this.options.ttlMs;
    // concurrent callers of one key share the first caller's load
    const outcome = await this.#flights.run(key, (flight) => this.#fly(key, load, ttlMs, flight));
    this.options.onResult?.(outcome.result);
    if (!outcome.ok) throw outcome.error;
    return { value: outcome.json === undefined ? undefined : (JSON.parse(outcome.json) as T), source: outcome.source };
  }

  /** Call AFTER the transaction committed. Never rejects. */
  async invalidate(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    for (const key of keys) this.#dropLocal(key);
    const { backend } = this.options;
    if (backend.kind !== 'shared') return;
    await this.#span(CacheSpan.Invalidate, keys.length, async (span) => {
      await this.#tombstone(span, () => backend.tier.tombstone(keys));
      await backend.bus.publish({ kind: 'keys', keys });
    });
  }

  /** Drops every entry of a tenant, here and on every gateway (status change, move). Never rejects. */
  async invalidateTenant(tenantId: string): Promise<void> {
    this.#dropTenantLocal(tenantId);
    const { backend } = this.options;
    if (backend.kind !== 'shared') return;
    await this.#span(CacheSpan.Invalidate, 0, async (span) => {
      await this.#tombstone(span, async () => {
        span.setAttribute(CacheAttr.KeyCount, await backend.tier.tombstoneTenant(tenantId));
      });
      await backend.bus.publish({ kind: 'tenant', tenantId });
    });
  }

  /** Stops listening to the bus; the bus, tier and Redis clients belong to the caller. */
  close(): void {
    // deaf to invalidations from here on, so the local tier must not serve anything
    this.#closed = true;
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    this.#flushLocal();
  }

  /** Entries in the in-process tier (for tests and gauges). */
  get localSize(): number {
    return this.#local.size;
  }

  /** What the in-process tier's entries weigh (for tests and gauges). */
  get localBytes(): number {
    return this.#local.bytes;
  }

  async #fly<T>(key: string, load: () => Promise<T | undefined>, ttlMs: number, flight: Flight): Promise<Outcome> {
    const { backend } = this.options;
    let result: CacheResult = 'miss';
    let miss: SharedMiss | undefined;
    if (backend.kind === 'shared') {
      const lookup = await this.#lookup(backend.tier, key);
      if (lookup === undefined) {
        result = 'error';
      } else if (lookup.kind === 'hit') {
        this.#storeLocal(key, lookup.json, ttlMs, flight);
        return { ok: true, result: 'hit', source: 'redis', json: lookup.json };
      } else {
        miss = lookup;
      }
    }
    let json: string | undefined;
    try {
      const value = await load();
      json = value === undefined ? undefined : JSON.stringify(value);
    } catch (error) {
      return { ok: false, result, error };
    }
    if (json === undefined) return { ok: true, result, source: 'loaded', json };
    // after a Redis error cache nothing: the subscriber is likely failing too, just not noticed yet
    if (result === 'error') return { ok: true, result, source: 'loaded', json };
    this.#storeLocal(key, json, ttlMs, flight);
    if (backend.kind === 'shared' && miss !== undefined && !flight.stale) await this.#fill(backend.tier, key, json, ttlMs, miss);
    return { ok: true, result, source: 'loaded', json };
  }

  async #lookup(tier: SharedTier, key: string): Promise<SharedLookup | undefined> {
    return this.#span(CacheSpan.Get, 1, async (span) => {
      try {
        const lookup = await tier.get(key);
        span.setAttribute(CacheAttr.Result, lookup.kind);
        return lookup;
      } catch (err) {
        this.#failed(span, err, 'cache read failed; loading');
        return undefined;
      }
    });
  }

  async #fill(tier: SharedTier, key: string, json: string, ttlMs: number, miss: SharedMiss): Promise<void> {
    try {
      await tier.fill(key, json, ttlMs, miss);
    } catch (err) {
      this.options.logger.debug({ err: (err as Error).message }, 'cache fill failed');
    }
  }

  async #tombstone(span: Span, write: () => Promise<void>): Promise<void> {
    try {
      await write();
      span.setAttribute(CacheAttr.Result, 'ok');
    } catch (err) {
      // the tier retries failed tombstones when Redis is back; until then the TTL bounds staleness
      this.#failed(span, err, 'cache invalidation not written to redis');
    }
  }

  #failed(span: Span, err: unknown, what: string): void {
    const message = (err as Error).message;
    span.setAttribute(CacheAttr.Result, 'error');
    span.setStatus({ code: SpanStatusCode.ERROR, message });
    // connection state changes are logged by the client watcher; per-command noise stays at debug
    this.options.logger.debug({ err: message }, what);
  }

  #span<R>(name: string, keyCount: number, fn: (span: Span) => Promise<R>): Promise<R> {
    return this.#tracer.startActiveSpan(name, { attributes: { [CacheAttr.KeyCount]: keyCount } }, (span) =>
      fn(span).finally(() => span.end()),
    );
  }

  #localUsable(): boolean {
    const { backend } = this.options;
    return !this.#closed && (backend.kind === 'localOnly' || backend.bus.connected);
  }

  #storeLocal(key: string, json: string, ttlMs: number, flight: Flight): void {
    // a stale flight read before a write; a disconnected bus could not tell us about one
    if (flight.stale || !this.#localUsable()) return;
    const localTtl = this.options.backend.kind === 'localOnly' ? ttlMs : Math.min(ttlMs, this.options.localTtlMs);
    this.#local.set(key, json, localTtl);
  }

  #apply(message: InvalidationEnvelope, own: boolean): void {
    // our own broadcast: already applied locally before it was published
    if (own) return;
    if (message.kind === 'keys') for (const key of message.keys) this.#dropLocal(key);
    else if (message.kind === 'tenant') this.#dropTenantLocal(message.tenantId);
  }

  #dropLocal(key: string): void {
    this.#local.delete(key);
    this.#flights.invalidate(key);
  }

  #dropTenantLocal(tenantId: string): void {
    const prefix = cacheKeys.tenantPrefix(tenantId);
    this.#local.deleteWhere((_, key) => key.startsWith(prefix));
    this.#flights.invalidateWhere((key) => key.startsWith(prefix));
  }

  #flushLocal(): void {
    this.#local.clear();
    this.#flights.invalidateAll();
  }
}
