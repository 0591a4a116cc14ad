import type { InvalidationEnvelope, InvalidationMessage } from './invalidation-message.js';

/** A key read from the shared tier that held no value. */
export interface SharedMiss {
  readonly kind: 'miss';
  /** what the key held: a tombstone, or '' for nothing; a fill only lands if it still holds exactly this */
  readonly snapshot: string;
  /** when the read was issued (ms, the tier's clock); a fill from a read older than the tombstone TTL is dropped */
  readonly at: number;
}

export type SharedLookup = { readonly kind: 'hit'; readonly json: string } | SharedMiss;

/**
 * The cross-process tier (Redis). Every method may reject (Redis down, timeout): the
 * cache treats that as a miss and carries on.
 */
export interface SharedTier {
  get(key: string): Promise<SharedLookup>;
  /** Stores `json` unless the key changed since `miss` was read; resolves false when it did. */
  fill(key: string, json: string, ttlMs: number, miss: SharedMiss): Promise<boolean>;
  /** Replaces the keys with tombstones that refuse fills from loads that began before. */
  tombstone(keys: readonly string[]): Promise<void>;
  /** Tombstones every stored key of a tenant; resolves with how many. */
  tombstoneTenant(tenantId: string): Promise<number>;
}

export type InvalidationHandler = (message: InvalidationEnvelope, own: boolean) => void;

/** How invalidations reach the other gateway processes (the `InvalidationBus`). */
export interface InvalidationChannel {
  /** the id this process stamps on what it publishes */
  readonly origin: string;
  /** true only while subscribed: only then does this process hear other processes' invalidations */
  readonly connected: boolean;
  /** Never rejects: a lost broadcast is bounded by TTLs. */
  publish(message: InvalidationMessage): Promise<void>;
  /** Returns a function that removes the handler. */
  onMessage(handler: InvalidationHandler): () => void;
  /** Called on every (re)subscription, the first included: messages sent meanwhile are lost. */
  onReconnect(handler: () => void): () => void;
}
