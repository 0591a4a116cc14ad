interface Entry<V> {
  readonly value: V;
  readonly expiresAt: number;
  readonly bytes: number;
}

export interface TtlCacheBytes<K, V> {
  /** the most the entries may weigh together; the least recently used go first */
  readonly maxBytes: number;
  /** an entry heavier than this is not kept at all (one large value must not flush the rest) */
  readonly maxEntryBytes: number;
  /** an estimate of what key and value hold in memory */
  readonly sizeOf: (value: V, key: K) => number;
}

/** Sets between two sweeps of expired entries: amortised O(1) per set, no timer to own. */
const SWEEP_EVERY = 256;

/**
 * A bounded in-process map with per-entry expiry. Bounded by entry count and, where its
 * keys or values come from clients, by bytes: the least recently used entry is evicted
 * first (Map keeps insertion order, and a hit re-inserts, so this is an LRU). Expired
 * entries are swept every few hundred sets, so they do not hold memory until evicted.
 */
export class TtlCache<K, V> {
  readonly #entries = new Map<K, Entry<V>>();
  #bytes = 0;
  #setsSinceSweep = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
    private readonly weight?: TtlCacheBytes<K, V>,
  ) {}

  get(key: K): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.#remove(key, entry);
      return undefined;
    }
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.value;
  }

  /** Keeps the value for ttlMs; returns false when it is too large to keep (any older copy is dropped). */
  set(key: K, value: V, ttlMs: number): boolean {
    this.delete(key);
    if (ttlMs <= 0) return false;
    const bytes = this.weight?.sizeOf(value, key) ?? 0;
    if (this.weight !== undefined && bytes > this.weight.maxEntryBytes) return false;
    if (++this.#setsSinceSweep >= SWEEP_EVERY) this.sweep();
    this.#entries.set(key, { value, expiresAt: this.now() + ttlMs, bytes });
    this.#bytes += bytes;
    const maxBytes = this.weight?.maxBytes ?? Infinity;
    while (this.#entries.size > this.maxEntries || this.#bytes > maxBytes) {
      const oldest = this.#entries.entries().next();
      if (oldest.done) break;
      this.#remove(oldest.value[0], oldest.value[1]);
    }
    return true;
  }

  delete(key: K): void {
    const entry = this.#entries.get(key);
    if (entry !== undefined) this.#remove(key, entry);
  }

  /** Deletes every entry whose value matches (e.g. all keys of one tenant). */
  deleteWhere(predicate: (value: V, key: K) => boolean): void {
    for (const [key, entry] of this.#entries) if (predicate(entry.value, key)) this.#remove(key, entry);
  }

  /** Drops every expired entry now. */
  sweep(): void {
    this.#setsSinceSweep = 0;
    const now = this.now();
    for (const [key, entry] of this.#entries) if (entry.expiresAt <= now) this.#remove(key, entry);
  }

  clear(): void {
    this.#entries.clear();
    this.#bytes = 0;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** What the entries weigh together (0 without a byte bound). */
  get bytes(): number {
    return this.#bytes;
  }

  #remove(key: K, entry: Entry<V>): void {
    this.#entries.delete(key);
    this.#bytes -= entry.bytes;
  }
}
