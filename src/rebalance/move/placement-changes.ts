/** Where a move will place its tenant, decided before the tenant's write pause. */
export interface PlacementDecision {
  readonly tenantId: string;
  readonly shardId: string;
  /** a pin is kept: the ring (of the active shards) does not put the tenant there */
  readonly pinned: boolean;
  /** the active shards the decision was made on; the flip writes nothing if they changed since */
  readonly ring: string;
}

/** How a move changes placement: the catalog, this gateway's table, and every other gateway. */
export interface PlacementChanges {
  /** Reads the ring: no pin when it already puts the tenant on the shard, else a pin. */
  decide(tenantId: string, shardId: string): Promise<PlacementDecision>;
  /**
   * Places the tenant as decided (decided again when the active shards changed since),
   * pinned with this reason where a pin is kept; every gateway routes it there at once.
   * Returns whether a pin was kept.
   */
  place(decision: PlacementDecision, reason: string): Promise<{ pinned: boolean }>;
}
