import type { PinRow, ShardRow } from '../catalog/catalog-rows.js';
import { ringOf, type Ring } from './ring.js';
import { GatewayError } from '../errors/errors.js';

export interface Placement {
  readonly shardId: string;
  /** true when a pin overrides the ring */
  readonly pinned: boolean;
}

/**
 * A tenant's placement: its pin if it has one, else where the ring hashes it.
 * Immutable: a catalog change builds a new table and swaps it in whole.
 */
export class PlacementTable {
  constructor(
    readonly ring: Ring,
    readonly pins: ReadonlyMap<string, string>,
    readonly version: bigint,
  ) {}

  /** Where the catalog's rows place each tenant: its pin, else the ring of the active shards. */
  static fromCatalog(shards: readonly ShardRow[], pins: readonly PinRow[], version = 0n): PlacementTable {
    return new PlacementTable(ringOf(shards, ['active']), new Map(pins.map((p) => [p.tenantId, p.shardId])), version);
  }

  shardFor(tenantId: string): Placement {
    const pinned = this.pins.get(tenantId);
    if (pinned !== undefined) return { shardId: pinned, pinned: true };
    const shardId = this.ring.get(tenantId);
    if (shardId === undefined) throw new GatewayError('SHARD_UNAVAILABLE', 'The ring has no shards', { retryAfterSeconds: 5 });
    return { shardId, pinned: false };
  }
}
