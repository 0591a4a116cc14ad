import type { ShardTopology } from '../../cluster/shard-registry.js';

/** Where a move's shards are: read from the catalog for each move (a shard added a second ago included). */
export interface ShardDirectory {
  shard(shardId: string): Promise<ShardTopology>;
  /** the primary's URL as the target's subscription must use it (password filled in) */
  primaryUrl(shardId: string): Promise<string>;
}
