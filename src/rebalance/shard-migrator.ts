import type { ShardTopology } from '../cluster/shard-registry.js';

/** How rebalancing readies a shard it adds or moves tenants to (the gateway's implementation: schema/). */
export interface ShardMigrator {
  /** a shard joining the fleet: opens it in this gateway's registry, runs the shard migrations on its primary, catches it up */
  migrate(shard: ShardTopology): Promise<readonly string[]>;
  /** a shard of the fleet about to take a tenant: the fleet's schema changes it lacks (no migration: those roll out) */
  catchUp(shard: ShardTopology): Promise<void>;
  /** undoes migrate()'s registration when the shard is refused after all */
  forget(shardId: string): Promise<void>;
}
