import { ringFingerprint, type PinStore } from '../../catalog/pin-store.js';
import type { ShardStore } from '../../catalog/shard-store.js';
import type { PlacementChanges, PlacementDecision } from './placement-changes.js';
import type { PlacementAnnouncer } from '../placement-announcer.js';
import { PlacementTable } from '../../placement/placement-table.js';
import { ringOf } from '../../placement/ring.js';

/** Decisions made on a ring that changed before the flip are made again, this many times at most. */
const MAX_DECISIONS = 3;

/**
 * A move's placement change in the catalog: the pin is dropped when the ring (of the
 * active shards) already puts the tenant on its new shard — a rebalance or drain — and
 * kept when an operator moved it where the ring would not. The ring is read before the
 * tenant's write pause; the flip itself is one statement (pin, placement history, version)
 * that writes nothing if the active shards changed since, and every gateway is told the
 * new placement with the version it made.
 */
export class CatalogPlacement implements PlacementChanges {
  constructor(
    private readonly shards: ShardStore,
    private readonly pins: PinStore,
    private readonly announcer: PlacementAnnouncer,
  ) {}

  async decide(tenantId: string, shardId: string): Promise<PlacementDecision> {
    const shards = await this.shards.list();
    return { tenantId, shardId, pinned: ringOf(shards, ['active']).get(tenantId) !== shardId, ring: ringFingerprint(shards) };
  }

  async place(decision: PlacementDecision, reason: string): Promise<{ pinned: boolean }> {
    let current = decision;
    for (let i = 1; ; i++) {
      const version = await this.pins.place(current.tenantId, current.shardId, current.pinned ? reason : undefined, current.ring);
      if (version !== undefined) {
        await this.announcer.announce([current.tenantId], { version, placed: new Map([[current.tenantId, current.shardId]]) });
        return { pinned: current.pinned };
      }
      if (i >= MAX_DECISIONS) throw new Error(`the active shards kept changing while ${current.tenantId} was placed on ${current.shardId}`);
      current = await this.decide(current.tenantId, current.shardId);
    }
  }

  /** The shard the catalog places the tenant on now (its pin, else the ring). */
  async placedOn(tenantId: string): Promise<string> {
    const [shards, pins] = await Promise.all([this.shards.list(), this.pins.list()]);
    return PlacementTable.fromCatalog(shards, pins).shardFor(tenantId).shardId;
  }
}
