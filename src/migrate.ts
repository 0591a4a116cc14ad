/**
 * Migrates the catalog, then rolls the pending shard migrations out to every shard through
 * the schema rollout engine (one shard at a time, each migration one transaction under a
 * short lock timeout, retried), waits for the end and exits: non-zero unless they succeeded.
 * The Kubernetes migration Job and `npm run cluster:up` run this; gateways do not migrate
 * shards as they start. With `--first-backup` (cluster:up) and a `backups` block, a shard
 * that has no base backup yet gets one, so the fleet is restorable from the start.
 */
import { randomUUID } from 'node:crypto';
import { loadConfig, ConfigError } from './config/load-config.js';
import { createLogger, logDestination } from './telemetry/logger.js';
import { Catalog } from './catalog/catalog.js';
import { ShardSecrets } from './catalog/shard-secrets.js';
import { seedRows } from './gateway.js';
import { fleetSchema, rollOutMigrations } from './schema/rollout/fleet-schema.js';
import { shardMigrations } from '../shards/migrations/shard/index.js';
import { PgTls } from './transport/pg-tls.js';
import { BaseBackups } from './backups/base-backups.js';
import { PgTools } from './backups/pg-tools.js';
import { placementRing } from './placement/ring.js';

async function run(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = createLogger(config.log.level, logDestination(config.log.format, config.nodeEnv));
  if (config.catalog === undefined) throw new ConfigError('migrate needs a catalog (GATEWAY_CONFIG or CATALOG_URL)');
  const tls = PgTls.fromConfig(config.db.tls, config.db.connectTimeoutMs);
  const catalog = new Catalog({
    url: config.catalog,
    poolMax: 2,
    connectTimeoutMs: config.db.connectTimeoutMs,
    statementTimeoutMs: 0,
    tls,
    shardSecrets: new ShardSecrets(config.encryption.keys, config.encryption.currentKeyId, process.env),
    // migrating the catalog records where existing tenants live, some by the ring
    ring: placementRing,
  });
  const { rollout } = fleetSchema({
    config,
    store: catalog.schemaChanges,
    shards: async () => (await catalog.shards.list()).filter((s) => s.state !== 'retired'),
    tls,
    logger,
    owner: `migrate-${randomUUID()}`,
    migrations: shardMigrations,
  });
  try {
    logger.info({ applied: await catalog.migrate() }, 'catalog migrated');
    await catalog.shards.seed(seedRows(config));
    const change = await rollOutMigrations(rollout, logger);
    logger.info({ change: change.id, what: change.ddl, shards: change.shards.map((s) => s.shard) }, 'shard migrations rolled out');
    const settings = config.backups;
    if (process.argv.includes('--first-backup') && settings) {
      const tools = new PgTools({ binDir: settings.pgBinDir, osUser: settings.osUser });
      const admin = { statementTimeoutMs: 0, connectTimeoutMs: config.db.connectTimeoutMs, tls };
      const backups = new BaseBackups(catalog.backups, tools, admin, settings);
      for (const shard of (await catalog.shards.list()).filter((s) => s.state !== 'retired')) {
        if ((await catalog.backups.list({ shard: shard.id, states: ['done'] })).length > 0) continue;
        const backup = await backups.take(shard, null);
        logger.info({ shard: shard.id, backup: backup.id, bytes: backup.sizeBytes }, 'first base backup taken');
      }
    }
  } finally {
    await rollout.stop();
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
