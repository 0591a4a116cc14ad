import path from 'node:path';
import type { Logger } from 'pino';
import type { ApiKeyStore } from '../catalog/api-key-store.js';
import type { BackupStore } from '../catalog/backup-store.js';
import type { JobStore } from '../catalog/job-store.js';
import type { TenantStore } from '../catalog/tenant-store.js';
import type { ShardTopology } from '../cluster/shard-registry.js';
import type { GatewayConfig } from '../config/gateway-config.js';
import { ConflictError } from '../errors/errors.js';
import { SEALED_COLUMNS, uuidv7, type Keyring } from '../models/index.js';
import type { TenantTransfer } from '../rebalance/transfer/tenant-transfer.js';
import { generateApiKey, generateKeyId, hashApiKey } from '../tenancy/api-keys.js';
import type { PgTls } from '../transport/pg-tls.js';
import { BackupJobs } from './backup-jobs.js';
import { BaseBackups, type RestorableWindow } from './base-backups.js';
import { PgTools } from './pg-tools.js';
import { rebindRows } from './rebind-rows.js';
import { ScratchInstance } from './scratch-instance.js';
import { TenantRestore } from './tenant-restore.js';

/** What the admin API offers of backups. */
export interface FleetBackups {
  readonly jobs: BackupJobs;
  readonly backups: BaseBackups;
  readonly store: BackupStore;
}

/**
 * Backups and tenant restores wired once for the gateway, when `backups` is configured (the
 * gateway runs beside the servers' files and PostgreSQL's tools: the local cluster).
 * Elsewhere (Kubernetes) backups are CloudNativePG's and the API answers 409 saying so.
 */
export function fleetBackups(deps: {
  readonly config: Readonly<Pick<GatewayConfig, 'backups' | 'db' | 'moves'>>;
  readonly store: BackupStore;
  /** tenants, and where each lived when (placement history: a restore reads the shard of its moment) */
  readonly tenants: Pick<TenantStore, 'get' | 'create' | 'shardAt'>;
  readonly apiKeys: Pick<ApiKeyStore, 'create'>;
  readonly shards: () => Promise<readonly Pick<ShardTopology, 'id' | 'primary' | 'admin'>[]>;
  readonly transfer: Pick<TenantTransfer, 'import' | 'replaceFenced'>;
  /** the open move of a tenant, if any */
  readonly jobs: Pick<JobStore, 'activeMove'>;
  readonly keyring: Keyring;
  readonly tls: PgTls;
  readonly logger: Logger;
  readonly owner: string;
}): FleetBackups | undefined {
  const { config, tls } = deps;
  const settings = config.backups;
  if (!settings) return undefined;
  const tools = new PgTools({ binDir: settings.pgBinDir, osUser: settings.osUser });
  const admin = { statementTimeoutMs: config.moves.statementTimeoutMs, connectTimeoutMs: config.db.connectTimeoutMs, tls };
  const backups = new BaseBackups(deps.store, tools, admin, { dir: settings.dir, archiveDir: settings.archiveDir, keep: settings.keep });
  const restore = new TenantRestore(
    {
      store: deps.store,
      scratch: new ScratchInstance(tools, { connectTimeoutMs: config.db.connectTimeoutMs, recoveryTimeoutMs: 300_000 }),
      shards: deps.shards,
      shardAt: (tenantId, at) => deps.tenants.shardAt(tenantId, at),
      tenantExists: async (id) => (await deps.tenants.get(id)) !== undefined,
      moving: async (id) => (await deps.jobs.activeMove(id)) !== undefined,
      createTenant: async (name) => {
        const apiKey = generateApiKey();
        const { tenant } = await deps.tenants.create({ id: uuidv7(), name, keyId: generateKeyId(), apiKeyHash: hashApiKey(apiKey) });
        return { id: tenant.id, apiKey };
      },
      issueKey: async (tenantId) => {
        const apiKey = generateApiKey();
        await deps.apiKeys.create(tenantId, generateKeyId(), hashApiKey(apiKey));
        return apiKey;
      },
      importRows: async (tenantId, lines, audit) => (await deps.transfer.import(tenantId, iterate(lines), { replace: true, audit })).rows,
      replaceRows: async (tenantId, fenceId, lines, audit) => (await deps.transfer.replaceFenced(tenantId, fenceId, iterate(lines), { fenceTimeoutMs: config.moves.fenceTimeoutMs, audit })).rows,
      rebind: rebindRows(deps.keyring, SEALED_COLUMNS),
      admin,
    },
    { scratchDir: path.join(settings.dir, '.scratch'), archiveDir: settings.archiveDir, archiveWaitMs: 60_000 },
  );
  const jobs = new BackupJobs({ store: deps.store, backups, restore, shards: deps.shards, logger: deps.logger }, { owner: deps.owner, leaseMs: config.moves.leaseMs });
  return { jobs, backups, store: deps.store };
}

async function* iterate(lines: readonly string[]): AsyncIterable<string> {
  yield* lines;
}

/** The 409 of a gateway without `backups`: what to use instead. */
export function backupsNotConfigured(): ConflictError {
  return new ConflictError(
    'backups are not configured on this gateway (no backups block in its config): on Kubernetes, CloudNativePG backs every cluster up (docs/operations.md, Backups and restore)',
  );
}

export type { RestorableWindow };
