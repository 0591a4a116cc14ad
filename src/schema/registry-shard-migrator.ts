import { adminPrimaryUrl, type ShardRegistry, type ShardTopology } from '../cluster/shard-registry.js';
import type { ShardMigrationRunner } from './shard-migration-runner.js';

/**
 * Opens shards in this gateway's registry and makes a new one ready for tenants: the
 * project's migrations, then what a shard keeps besides (series partitions, the fleet's
 * online schema changes in order). The fleet's existing shards are migrated by the
 * schema rollout, never here.
 */
export class RegistryShardMigrator {
  constructor(
    private readonly registry: ShardRegistry,
    private readonly runner: ShardMigrationRunner,
    /** after the migrations: series partitions, and the schema changes the fleet has applied */
    private readonly afterMigrate?: (shard: ShardTopology) => Promise<unknown>,
  ) {}

  /**
   * A shard joining the fleet (it takes no tenants yet): opens it (a known one is reused),
   * runs every pending shard migration on its primary as the privileged role, catches it up.
   * Returns the migrations' names.
   */
  async migrate(shard: ShardTopology): Promise<string[]> {
    this.registry.add(shard);
    const applied = await this.runner.apply(adminPrimaryUrl(shard));
    await this.afterMigrate?.(shard);
    return applied;
  }

  /** A shard of the fleet about to take a tenant (a move's target): the schema changes it lacks, no migration. */
  async catchUp(shard: ShardTopology): Promise<void> {
    this.registry.add(shard);
    await this.afterMigrate?.(shard);
  }

  /** Undoes migrate()'s registration (a shard refused after all); its schema stays. */
  async forget(shardId: string): Promise<void> {
    await this.registry.remove(shardId);
  }
}
