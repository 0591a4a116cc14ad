/**
 * Migrates the catalog and every shard, then exits: the Kubernetes migration Job and
 * upgrade pipelines run this before rolling gateways (which also migrate at start,
 * under the same advisory locks, so running both is safe).
 */
import { loadConfig, ConfigError } from './config/load-config.js';
import { createLogger } from './telemetry/logger.js';
import { Catalog } from './catalog/catalog.js';
import { ShardSecrets } from './catalog/shard-secrets.js';
import { ShardRegistry } from './cluster/shard-registry.js';
import { buildModelDeps, seedRows } from './gateway.js';
import { RegistryShardMigrator } from './schema/registry-shard-migrator.js';
import { SeriesPartitionKeeper } from './schema/series-partition-keeper.js';
import { shardMigrations } from '../shards/migrations/shard/index.js';
import { PgTls } from './transport/pg-tls.js';

async function run(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = createLogger(config.log.level);
  if (config.catalog === undefined) throw new ConfigError('migrate needs a catalog (GATEWAY_CONFIG or CATALOG_URL)');
  const tls = PgTls.fromConfig(config.db.tls, config.db.connectTimeoutMs);
  const catalog = new Catalog({
    url: config.catalog,
    poolMax: 2,
    connectTimeoutMs: config.db.connectTimeoutMs,
    statementTimeoutMs: 0,
    tls,
    shardSecrets: new ShardSecrets(config.encryption.keys, config.encryption.currentKeyId, process.env),
  });
  const registry = new ShardRegistry(
    { ...config.pool, poolMax: 2, poolMin: 0, poolIdleMs: 1000, poolAcquireMs: config.pool.acquireMs, statementTimeoutMs: 0, idleInTransactionTimeoutMs: 0, connectTimeoutMs: config.db.connectTimeoutMs, tls },
    buildModelDeps(config, logger),
  );
  const partitions = new SeriesPartitionKeeper(() => [], { ...config.series, intervalMs: config.series.maintenanceIntervalMs, connectTimeoutMs: config.db.connectTimeoutMs, tls }, logger);
  const migrator = new RegistryShardMigrator(registry, shardMigrations, tls, config.db.connectTimeoutMs, (shard) => partitions.keep(shard));
  try {
    logger.info({ applied: await catalog.migrate() }, 'catalog migrated');
    await catalog.shards.seed(seedRows(config));
    for (const row of await catalog.shards.list()) {
      if (row.state === 'retired') continue;
      logger.info({ shard: row.id, applied: await migrator.migrate(row) }, 'shard migrated');
    }
  } finally {
    await registry.close();
    await catalog.close();
  }
}

run().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof ConfigError ? err.message : err);
    process.exit(1);
  },
);
