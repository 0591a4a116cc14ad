/** How a move changes placement: the catalog, this gateway's table, and every other gateway. */
export interface PlacementChanges {
  /**
   * Places the tenant on the shard: no pin when the ring (of the active shards) already
   * puts it there, else a pin with this reason. Returns whether a pin was kept.
   */
  place(tenantId: string, shardId: string, reason: string): Promise<{ pinned: boolean }>;
}
