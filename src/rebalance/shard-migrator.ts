import type { ShardTopology } from '../cluster/shard-registry.js';

/** How rebalancing readies a shard it adds or moves tenants to (the gateway's implementation: schema/). */
export interface ShardMigrator {
  /** opens the shard in this gateway's registry and runs the shard migrations on its primary */
  migrate(shard: ShardTopology): Promise<readonly string[]>;
  /** undoes migrate()'s registration when the shard is refused after all */
  forget(shardId: string): Promise<void>;
}
