import type { Logger } from 'pino';
import type { BackupStore } from '../catalog/backup-store.js';
import type { ShardTopology } from '../cluster/shard-registry.js';
import type { GatewayConfig } from '../config/gateway-config.js';
import { ConflictError } from '../errors/errors.js';
import type { PgTls } from '../transport/pg-tls.js';
import { BackupJobs } from './backup-jobs.js';
import { BaseBackups, type RestorableWindow } from './base-backups.js';
import { PgTools } from './pg-tools.js';

/** What the admin API offers of backups; `undefined` parts where this deployment has none. */
export interface FleetBackups {
  readonly jobs: BackupJobs;
  readonly backups: BaseBackups;
  readonly store: BackupStore;
}

/**
 * Backups wired once for the gateway, when `backups` is configured (the gateway runs beside
 * the servers' files and PostgreSQL's tools: the local cluster). Elsewhere (Kubernetes)
 * backups are CloudNativePG's and the API answers 409 saying so.
 */
export function fleetBackups(deps: {
  readonly config: Readonly<Pick<GatewayConfig, 'backups' | 'db' | 'moves'>>;
  readonly store: BackupStore;
  readonly shards: () => Promise<readonly Pick<ShardTopology, 'id' | 'primary' | 'admin'>[]>;
  readonly tls: PgTls;
  readonly logger: Logger;
  readonly owner: string;
}): FleetBackups | undefined {
  const settings = deps.config.backups;
  if (!settings) return undefined;
  const tools = new PgTools({ binDir: settings.pgBinDir, osUser: settings.osUser });
  const backups = new BaseBackups(deps.store, tools, deps.tls, {
    dir: settings.dir,
    archiveDir: settings.archiveDir,
    keep: settings.keep,
    connectTimeoutMs: deps.config.db.connectTimeoutMs,
  });
  const jobs = new BackupJobs({ store: deps.store, backups, shards: deps.shards, logger: deps.logger }, { owner: deps.owner, leaseMs: deps.config.moves.leaseMs });
  return { jobs, backups, store: deps.store };
}

/** The 409 of a gateway without `backups`: what to use instead. */
export function backupsNotConfigured(): ConflictError {
  return new ConflictError(
    'backups are not configured on this gateway (no backups block in its config): on Kubernetes, CloudNativePG backs every cluster up (docs/operations.md, Backups and restore)',
  );
}

export type { RestorableWindow };
