import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { loadConfig, describeConfig, ConfigError } from './config/load-config.js';
import type { GatewayConfig } from './config/gateway-config.js';
import { createLogger, logDestination } from './telemetry/logger.js';
import { shutdownTelemetry } from './telemetry/spans.js';
import { Gateway } from './gateway.js';
import { REQUEST_ROLE as REQUEST_GROUP_ROLE } from '../shards/migrations/shard/0004-row-level-security.js';
import { startEmbeddedTopology, LocalSecrets, type EmbeddedTopology } from './embedded/embedded-topology.js';
import { generateApiKey, generateKeyId, hashApiKey } from './tenancy/api-keys.js';

const DEMO_TENANT = 'demo';

/** Process entry: config, embedded databases when no catalog is configured, signals. */
async function main(): Promise<void> {
  let config = loadConfig(process.env);
  const logger = createLogger(config.log.level, logDestination(config.log.format, config.nodeEnv));
  // what `${env:NAME}` in shard URLs reads, PGPASSWORD included, before it leaves the environment
  const secretEnv = Object.freeze({ ...process.env });
  if (process.env.PGPASSWORD !== undefined) {
    // loadConfig wrote it into the configured URLs; left here, node-postgres would lend it
    // to any URL without a password, a shard added through the admin API included
    delete process.env.PGPASSWORD;
    logger.warn('PGPASSWORD was written into the configured URLs that carry no password and then dropped; prefer ${env:NAME} per cluster');
  }
  logger.debug({ config: describeConfig(config) }, 'configuration');

  let embedded: EmbeddedTopology | undefined;
  let secrets: LocalSecrets | undefined;
  if (config.catalog === undefined) {
    const dataDir = path.resolve(config.embedded.dataDir);
    logger.info({ dataDir }, 'no catalog configured: starting the embedded default (PGlite)');
    embedded = await startEmbeddedTopology(dataDir, config.embedded.shardCount);
    secrets = new LocalSecrets(dataDir);
    // PGlite has one backend, logged in as a superuser: requests take the least-privilege
    // role per statement instead, so row-level security applies to them as on a cluster
    config = Object.freeze({
      ...config,
      catalog: embedded.catalog,
      shards: embedded.shards,
      pool: { ...config.pool, max: Math.min(config.pool.max, 5) },
      // loopback to this process's own wire server, which has no TLS to offer
      db: { ...config.db, requestRole: config.db.requestRole ?? REQUEST_GROUP_ROLE, tls: { mode: 'disable' } },
    }) as Readonly<GatewayConfig>;
  }

  const stored = secrets?.read() ?? {};
  const generatedToken = config.adminToken === undefined;
  const adminToken = config.adminToken ?? stored.adminToken ?? randomBytes(24).toString('base64url');

  const gateway = await Gateway.start(config, { logger, adminToken, secretEnv, endpointsFromConfig: embedded !== undefined, migrateShards: embedded !== undefined });

  if (embedded && secrets) {
    let demoKey = stored.demoApiKey;
    if ((await gateway.catalog.tenants.get(DEMO_TENANT)) === undefined) {
      demoKey = generateApiKey();
      await gateway.catalog.tenants.create({ id: DEMO_TENANT, name: 'Demo tenant', keyId: generateKeyId(), apiKeyHash: hashApiKey(demoKey) });
    }
    secrets.write({ ...stored, ...(generatedToken ? { adminToken } : {}), ...(demoKey ? { demoApiKey: demoKey } : {}) });
    printWelcome(gateway, generatedToken ? adminToken : undefined, demoKey);
  } else if (generatedToken) {
    console.log(`\nAdmin API token (generated for this run; set GATEWAY_ADMIN_TOKEN to choose one):\n  ${adminToken}\n`);
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'draining');
    void (async () => {
      try {
        await gateway.stop();
        await embedded?.close();
        await shutdownTelemetry();
        process.exit(0);
      } catch (err) {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      }
    })();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

function printWelcome(gateway: Gateway, adminToken: string | undefined, demoKey: string | undefined): void {
  const lines = [
    '',
    'shardgate is running on the embedded default (PGlite, no external services).',
    `  tenant API: ${gateway.tenantUrl}    admin API: ${gateway.adminUrl}`,
  ];
  if (adminToken) lines.push(`  admin token: ${adminToken}`);
  if (demoKey) {
    lines.push(`  demo tenant "${DEMO_TENANT}" API key: ${demoKey}`, '', 'Try it:');
    lines.push(
      `  curl -s -X POST ${gateway.tenantUrl}/v1/users -H 'Authorization: Bearer ${demoKey}' -H 'Content-Type: application/json' \\`,
      `       -d '{"username":"alice","email":"alice@example.com","password":"correct horse battery"}'`,
      `  curl -s ${gateway.tenantUrl}/v1/users -H 'Authorization: Bearer ${demoKey}'`,
    );
  }
  console.log(lines.join('\n') + '\n');
}

main().catch((err: unknown) => {
  const code = (err as { code?: unknown }).code;
  if (err instanceof ConfigError) console.error(err.message);
  // a refusal to start with a reason of its own (a TLS file, an evicting limits Redis): its code and words, no stack
  else if (code === 'CONFIG_INVALID' || code === 'REDIS_EVICTS_RATE_LIMITS' || code === 'EMBEDDED_UNAVAILABLE') console.error(`shardgate refused to start (${code}): ${(err as Error).message}`);
  else console.error('shardgate failed to start:', err);
  process.exit(1);
});
