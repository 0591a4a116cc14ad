import { Umzug, SequelizeStorage } from 'umzug';
import { Sequelize } from 'sequelize';
import type { Migration } from '../../shards/migrations/migration.js';

/** Distinct advisory lock keys (shards: see ShardMigrationRunner) so catalog and shard migrations on one server never wait on each other. */
export const MigrationLock = { Catalog: 7_301_001, Shard: 7_301_002 } as const;

/**
 * Runs the catalog's pending migrations under a session-level PostgreSQL advisory lock, so
 * gateways starting at once migrate it exactly once (umzug itself has no locking).
 * The lock is held on one pinned connection for the whole run.
 */
export async function runMigrations(sequelize: Sequelize, migrations: readonly Migration[], lockKey: number): Promise<string[]> {
  const umzug = new Umzug({
    migrations: migrations.map((m) => ({
      name: m.name,
      up: () => m.up(sequelize),
      down: async () => {
        if (m.down) await m.down(sequelize);
      },
    })),
    storage: new SequelizeStorage({ sequelize, tableName: 'schema_migrations' }),
    logger: undefined,
  });
  const lockConn = (await sequelize.connectionManager.getConnection({ type: 'write' })) as LockConnection;
  try {
    await lockConn.query(`SELECT pg_advisory_lock(${lockKey})`);
    try {
      const applied = await umzug.up();
      return applied.map((m) => m.name);
    } finally {
      await lockConn.query(`SELECT pg_advisory_unlock(${lockKey})`);
    }
  } finally {
    sequelize.connectionManager.releaseConnection(lockConn);
  }
}

interface LockConnection {
  query(sql: string): Promise<unknown>;
}
