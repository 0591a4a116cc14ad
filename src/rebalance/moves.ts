import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Catalog } from '../catalog/catalog.js';
import type { PlacementService } from '../placement/placement-service.js';
import { CatalogPlacement } from './move/catalog-placement.js';
import { CatalogShardDirectory } from './move/catalog-shard-directory.js';
import { JobFinisher } from './jobs/job-finisher.js';
import { JobRunner } from './jobs/job-runner.js';
import { MoveJobs } from './jobs/move-jobs.js';
import type { MovesConfig } from './move/move-context.js';
import type { PlacementAnnouncer } from './placement-announcer.js';
import { ShardProvisioner } from './topology/shard-provisioner.js';
import type { ShardUrlPolicy } from './topology/shard-url-policy.js';
import type { ShardMigrator } from './shard-migrator.js';
import type { PgTls } from '../transport/pg-tls.js';
import type { ShardLatencies } from '../cluster/shard-latencies.js';
import { tlsFailureReason } from '../transport/connect-failure.js';
import { TenantMover, type MoveHooks } from './move/tenant-mover.js';
import { TenantTransfer } from './transfer/tenant-transfer.js';

export interface MovesDeps {
  /** config.moves (the shape is declared once, in move-context.ts, beside the timings it feeds) */
  readonly config: MovesConfig;
  readonly connectTimeoutMs: number;
  /** TLS of the mover's own connections */
  readonly tls: PgTls;
  readonly catalog: Pick<Catalog, 'tenants' | 'shards' | 'pins' | 'jobs' | 'schemaChanges'>;
  readonly placement: PlacementService;
  readonly logger: Logger;
  readonly announcer: PlacementAnnouncer;
  readonly migrator: ShardMigrator;
  readonly hooks?: MoveHooks;
  /** what POST /admin/shards may connect to */
  readonly shardUrlPolicy: ShardUrlPolicy;
  /** config.placement: a finished move's tombstone goes once the write lease and its margin have passed (never with no lease) */
  readonly leases: { readonly writeLeaseMs: number; readonly tombstoneMarginMs: number };
  /** the statement latency each shard's tenants see through this gateway (a move's bulk work yields to it) */
  readonly latencies?: ShardLatencies;
}

const tombstoneAfter = (l: MovesDeps['leases']): number => (l.writeLeaseMs > 0 ? l.writeLeaseMs + l.tombstoneMarginMs : 0);

/** The moves subsystem, wired: the runner (start/stop with the gateway) and what the admin API calls. */
export class Moves {
  readonly runner: JobRunner;
  readonly jobs: MoveJobs;
  readonly provisioner: ShardProvisioner;
  readonly transfer: TenantTransfer;

  constructor(deps: MovesDeps) {
    const { config, catalog, logger, announcer, migrator, latencies } = deps;
    const admin = { statementTimeoutMs: config.statementTimeoutMs, connectTimeoutMs: deps.connectTimeoutMs, tls: deps.tls };
    const store = catalog.jobs;
    const placement = new CatalogPlacement(catalog.shards, catalog.pins, announcer);
    const mover = new TenantMover({
      store,
      shards: new CatalogShardDirectory(catalog.shards),
      placement,
      migrator,
      schemaChanges: catalog.schemaChanges,
      timings: { ...config, admin, ...(latencies ? { observedLatency: (shardId: string) => latencies.recent(shardId) } : {}) },
      logger: logger.child({ component: 'mover' }),
      ...(deps.hooks ? { hooks: deps.hooks } : {}),
    });
    this.runner = new JobRunner(
      { store, mover, logger, finisher: new JobFinisher({ shards: catalog.shards, announcer }), placement },
      { owner: `gateway-${randomUUID()}`, concurrency: config.concurrency, leaseMs: config.leaseMs, tombstoneAfterMs: tombstoneAfter(deps.leases) },
    );
    this.jobs = new MoveJobs({ store, runner: this.runner, announcer, logger });
    this.provisioner = new ShardProvisioner({
      shards: catalog.shards,
      admin,
      migrator,
      announcer,
      urlPolicy: deps.shardUrlPolicy,
      onUnreachable: (field, err) =>
        logger.warn({ field, err: err instanceof Error ? err.message : String(err), tls: tlsFailureReason(err) }, 'a shard being added is unreachable'),
    });
    this.transfer = new TenantTransfer(catalog.tenants, deps.placement, admin);
  }
}
