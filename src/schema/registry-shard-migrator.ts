import type { ShardRegistry, ShardTopology } from '../cluster/shard-registry.js';
import type { Migration } from '../../shards/migrations/migration.js';
import { runMigrations, MigrationLock } from './run-migrations.js';

/** Opens shards in this gateway's registry and brings each primary's schema up to date. */
export class RegistryShardMigrator {
  constructor(
    private readonly registry: ShardRegistry,
    /** the shard migrations, in order (the composition root passes them: src/ does not import shards/) */
    private readonly migrations: readonly Migration[],
  ) {}

  /** Opens the shard (a known one is reused) and runs the pending shard migrations on its primary; returns their names. */
  async migrate(shard: ShardTopology): Promise<string[]> {
    return runMigrations(this.registry.add(shard).primary.sequelize, this.migrations, MigrationLock.Shard);
  }

  /** Undoes migrate()'s registration (a shard refused after all); its schema stays. */
  async forget(shardId: string): Promise<void> {
    await this.registry.remove(shardId);
  }
}
