import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Catalog } from '../catalog/catalog.js';
import type { PlacementService } from '../placement/placement-service.js';
import type { ShardTopology } from '../cluster/shard-registry.js';
import { NotFoundError } from '../errors/errors.js';
import { CatalogPlacement } from './catalog-placement.js';
import { JobRunner } from './job-runner.js';
import { MoveJobs } from './move-jobs.js';
import { ShardProvisioner } from './shard-provisioner.js';
import { TenantMover, type MoveHooks } from './tenant-mover.js';
import { TenantTransfer } from './tenant-transfer.js';

export type { MoveHooks } from './tenant-mover.js';

/** config.moves (the shape is declared once, in move-context.ts, beside the timings it feeds) */
export type { MovesConfig } from './move-context.js';
import type { MovesConfig } from './move-context.js';

export interface MovesDeps {
  readonly config: MovesConfig;
  readonly connectTimeoutMs: number;
  readonly catalog: Catalog;
  readonly placement: PlacementService;
  readonly logger: Logger;
  /** reloads this gateway's placement, broadcasts the catalog version, drops the tenants' cached entries */
  readonly announce: (tenantIds: readonly string[]) => Promise<void>;
  /** opens the shard in the registry and runs the shard migrations on its primary */
  readonly migrateShard: (shard: ShardTopology) => Promise<void>;
  readonly forgetShard: (shardId: string) => Promise<void>;
  readonly hooks?: MoveHooks;
  /**
   * Password for shard URLs that carry none (Kubernetes keeps it in PGPASSWORD). The
   * target server opens the subscription's connection itself and cannot see this process's
   * environment, so the conninfo it gets must hold the password.
   */
  readonly shardPassword?: string | undefined;
}

/** The URL with the password filled in when it has none and one is known. */
export function withPassword(url: string, password: string | undefined): string {
  if (!password) return url;
  try {
    const parsed = new URL(url);
    if (parsed.password) return url;
    parsed.password = password;
    return parsed.toString();
  } catch {
    return url;
  }
}

/** The moves subsystem, wired: the runner (start/stop with the gateway) and what the admin API calls. */
export interface Moves {
  readonly runner: JobRunner;
  readonly jobs: MoveJobs;
  readonly provisioner: ShardProvisioner;
  readonly transfer: TenantTransfer;
}

export function createMoves(deps: MovesDeps): Moves {
  const { config, catalog, logger } = deps;
  const admin = { statementTimeoutMs: config.statementTimeoutMs, connectTimeoutMs: deps.connectTimeoutMs };
  const store = catalog.jobs;
  const shard = async (id: string) => {
    const row = (await catalog.shards.list()).find((s) => s.id === id);
    if (!row) throw new NotFoundError('shard', id);
    return row;
  };
  const placement = new CatalogPlacement(catalog.shards, catalog.pins, deps.announce);
  const mover = new TenantMover({
    store,
    shards: { primaryUrl: async (id) => withPassword((await shard(id)).primary, deps.shardPassword) },
    placement,
    migrateShard: async (id) => deps.migrateShard(await shard(id)),
    timings: { ...config, admin },
    logger: logger.child({ component: 'mover' }),
    ...(deps.hooks ? { hooks: deps.hooks } : {}),
  });
  // jobs and runner refer to each other: the runner ends a job through the job kind's rules
  const holder: { jobs?: MoveJobs } = {};
  const runner = new JobRunner(
    { store, mover, logger, finishJob: (job, moves, ok) => holder.jobs?.finishJob(job, moves, ok) ?? Promise.resolve(), placedOn: (t) => placement.placedOn(t) },
    { owner: `gateway-${randomUUID()}`, concurrency: config.concurrency, leaseMs: config.leaseMs },
  );
  const jobs = new MoveJobs({ store, shards: catalog.shards, runner, announce: deps.announce, logger });
  holder.jobs = jobs;
  const provisioner = new ShardProvisioner({ shards: catalog.shards, admin, migrate: deps.migrateShard, forget: deps.forgetShard, announce: deps.announce });
  return { runner, jobs, provisioner, transfer: new TenantTransfer(catalog.tenants, deps.placement, admin) };
}
