import { adminPrimaryUrl, type ShardRegistry, type ShardTopology } from '../cluster/shard-registry.js';
import type { Migration } from '../../shards/migrations/migration.js';
import { runMigrationsAt, MigrationLock } from './run-migrations.js';
import type { PgTls } from '../transport/pg-tls.js';

/** Opens shards in this gateway's registry and brings each primary's schema up to date. */
export class RegistryShardMigrator {
  constructor(
    private readonly registry: ShardRegistry,
    /** the shard migrations, in order (the composition root passes them: src/ does not import shards/) */
    private readonly migrations: readonly Migration[],
    private readonly tls: PgTls,
    private readonly connectTimeoutMs = 5_000,
    /** after the migrations: what a shard keeps ready besides its schema (series partitions) */
    private readonly afterMigrate?: (shard: ShardTopology) => Promise<unknown>,
  ) {}

  /**
   * Opens the shard (a known one is reused) and runs the pending shard migrations on its
   * primary as the privileged role; returns their names.
   */
  async migrate(shard: ShardTopology): Promise<string[]> {
    this.registry.add(shard);
    const applied = await runMigrationsAt(adminPrimaryUrl(shard), this.migrations, MigrationLock.Shard, this.tls, this.connectTimeoutMs);
    await this.afterMigrate?.(shard);
    return applied;
  }

  /** Undoes migrate()'s registration (a shard refused after all); its schema stays. */
  async forget(shardId: string): Promise<void> {
    await this.registry.remove(shardId);
  }
}
