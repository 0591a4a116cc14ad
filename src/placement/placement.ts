import { Ring } from './ring.js';
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

  shardFor(tenantId: string): Placement {
    const pinned = this.pins.get(tenantId);
    if (pinned !== undefined) return { shardId: pinned, pinned: true };
    const shardId = this.ring.get(tenantId);
    if (shardId === undefined) throw new GatewayError('SHARD_UNAVAILABLE', 'The ring has no shards', { retryAfterSeconds: 5 });
    return { shardId, pinned: false };
  }
}
