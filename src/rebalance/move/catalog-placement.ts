import type { PinStore } from '../../catalog/pin-store.js';
import type { ShardStore } from '../../catalog/shard-store.js';
import type { PlacementChanges } from './placement-changes.js';
import type { PlacementAnnouncer } from '../placement-announcer.js';
import { PlacementTable } from '../../placement/placement-table.js';
import { ringOf } from '../../placement/ring.js';

/**
 * A move's placement change in the catalog: the pin is dropped when the ring (of the
 * active shards, read now) already puts the tenant on its new shard — a rebalance or
 * drain — and kept when an operator moved it where the ring would not; the tenant's
 * placement history turns over in the same statement.
 */
export class CatalogPlacement implements PlacementChanges {
  constructor(
    private readonly shards: ShardStore,
    private readonly pins: PinStore,
    private readonly announcer: PlacementAnnouncer,
  ) {}

  async place(tenantId: string, shardId: string, reason: string): Promise<{ pinned: boolean }> {
    const ring = ringOf(await this.shards.list(), ['active']);
    const pinned = ring.get(tenantId) !== shardId;
    await this.pins.place(tenantId, shardId, pinned ? reason : undefined);
    await this.announcer.announce([tenantId]);
    return { pinned };
  }

  /** The shard the catalog places the tenant on now (its pin, else the ring). */
  async placedOn(tenantId: string): Promise<string> {
    const [shards, pins] = await Promise.all([this.shards.list(), this.pins.list()]);
    return PlacementTable.fromCatalog(shards, pins).shardFor(tenantId).shardId;
  }
}
