import type { ReadThroughCache } from '../../cache/read-through-cache.js';
import { cacheKeys } from '../../cache/cache-keys.js';
import type { TenantSession } from '../tenant-session.js';
import type { ProductDto } from './product-dto.js';

/** A product as loaded from a node, with the node's name for X-Served-By. */
export interface LoadedProduct {
  readonly product: ProductDto;
  readonly servedBy: string;
}

/** How a product read was answered (X-Cache). */
export type CacheOutcome = 'hit' | 'miss' | 'bypass';

export interface ProductCacheOptions {
  /** absent: no caching at all (`cache.enabled: false`) */
  readonly cache?: ReadThroughCache | undefined;
  readonly ttlMs: number;
  /** cap for entries loaded from a replica: its lag bound */
  readonly replicaFillTtlMs: number;
}

/**
 * Cached product reads, and their invalidation after every committed write that changes a
 * product (single, batch, or an order's stock). One object, shared by every repository
 * that writes products, so the key scheme and the TTL rules live in one place.
 */
export class ProductCache {
  readonly #options: ProductCacheOptions;

  constructor(options: ProductCacheOptions) {
    this.#options = Object.freeze({ ...options });
  }

  /**
   * Eventual reads go through the cache; strong and token reads skip it (a gateway that has
   * not yet heard an invalidation must not answer them). An entry loaded from a replica may
   * be up to the lag bound old, so it is cached no longer than that bound; entries loaded
   * from the primary get the full TTL. A hit reports the node that produced the cached copy
   * (X-Served-By keeps its meaning: which database the data was read from).
   */
  async read(session: TenantSession, id: string, load: () => Promise<LoadedProduct | undefined>): Promise<{ product: ProductDto | undefined; cache: CacheOutcome }> {
    const { cache, ttlMs, replicaFillTtlMs } = this.#options;
    if (cache === undefined || !session.eventual) return { product: (await load())?.product, cache: 'bypass' };
    const fillTtlMs = session.peekRead().role === 'replica' ? Math.min(ttlMs, replicaFillTtlMs) : ttlMs;
    const result = await cache.getOrLoad(cacheKeys.product(session.tenantId, id), load, { ttlMs: fillTtlMs });
    if (result.source !== 'loaded' && result.value !== undefined) session.servedFromCache(result.value.servedBy);
    return { product: result.value?.product, cache: result.source === 'loaded' ? 'miss' : 'hit' };
  }

  /** Drops cached copies after a committed write; never throws (TTLs bound what a lost one costs). */
  async invalidate(session: TenantSession, ids: readonly string[]): Promise<void> {
    await this.#options.cache?.invalidate(ids.map((id) => cacheKeys.product(session.tenantId, id)));
  }
}
