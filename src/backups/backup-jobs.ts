import type { Logger } from 'pino';
import type { BackupRun, BackupStore } from '../catalog/backup-store.js';
import type { ShardTopology } from '../cluster/shard-registry.js';
import { ConflictError, NotFoundError } from '../errors/errors.js';
import { LeaseLost, type HeldLease } from '../leases/held-lease.js';
import { LeasedRuns } from '../leases/leased-runs.js';
import { uuidv7 } from '../models/index.js';
import type { BaseBackups } from './base-backups.js';
import type { RestoreInto, TenantRestore } from './tenant-restore.js';

export interface BackupJobsOptions {
  /** this gateway's id, as a job's owner */
  readonly owner: string;
  /** a claim on a job lasts this long unless renewed; another gateway resumes the job after it */
  readonly leaseMs: number;
}

type Shard = Pick<ShardTopology, 'id' | 'primary' | 'admin'>;

/**
 * Backup jobs: a base backup of every shard, one shard after another (each copies a whole
 * data directory: one at a time keeps the fleet's disks and network for the traffic). A job
 * is leased; a gateway that dies mid-job leaves it to another (or to itself, restarted),
 * which clears the interrupted backup and goes on with the shards not yet done.
 */
export class BackupJobs {
  readonly #runs: LeasedRuns;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: {
      readonly store: BackupStore;
      readonly backups: BaseBackups;
      readonly restore: TenantRestore;
      readonly shards: () => Promise<readonly Shard[]>;
      readonly logger: Logger;
    },
    private readonly options: BackupJobsOptions,
  ) {
    const { store, logger } = deps;
    this.#runs = new LeasedRuns({ what: 'backup job', logKey: 'job', owner: options.owner, leaseMs: options.leaseMs, claim: (id, o, ms) => store.claim(id, o, ms), logger });
  }

  #claimAndRun(id: string): Promise<void> {
    return this.#runs.run(id, (lease) => this.#run(id, lease));
  }

  /** Starts a backup of every shard; 409 while another backup job is open. */
  async submit(): Promise<BackupRun> {
    const [open] = await this.deps.store.open('backup');
    if (open) throw new ConflictError(`backup job ${open} is still running: wait for it`);
    const shards = await this.deps.shards();
    if (shards.length === 0) throw new ConflictError('there is no shard to back up');
    const id = uuidv7();
    await this.deps.store.createRun(id, 'backup', { shards: shards.map((s) => s.id) });
    await this.deps.store.progress(id, { shardsDone: 0, shardsTotal: shards.length });
    void this.#claimAndRun(id);
    return (await this.deps.store.run(id))!;
  }

  /** Starts restoring one tenant to a moment; 404, 400, 409 or 422 before anything starts. */
  async submitRestore(tenantId: string, at: string, into: RestoreInto): Promise<BackupRun> {
    const params = await this.deps.restore.plan(tenantId, at, into);
    const id = uuidv7();
    await this.deps.store.createRun(id, 'restore', params);
    void this.#claimAndRun(id);
    return (await this.deps.store.run(id))!;
  }

  async get(id: string): Promise<BackupRun> {
    const run = await this.deps.store.run(id);
    if (!run) throw new NotFoundError('job', id);
    return run;
  }

  /** Resumes open jobs whose owner stopped renewing, now and every half lease. */
  start(): void {
    void this.scan();
    this.#timer ??= setInterval(() => void this.scan(), Math.max(500, this.options.leaseMs / 2));
    this.#timer.unref();
  }

  async scan(): Promise<void> {
    try {
      for (const id of await this.deps.store.claimable(this.options.owner)) void this.#claimAndRun(id);
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message }, 'backup jobs not scanned');
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#runs.settled();
  }

  async #run(id: string, lease: HeldLease): Promise<void> {
    const { store, backups, logger } = this.deps;
    const { owner } = this.options;
    const progress = async (patch: Record<string, unknown>) => {
      lease.check();
      await store.progress(id, patch);
    };
    try {
      const job = (await store.run(id))!;
      if (job.kind === 'restore') {
        const result = await this.deps.restore.run(id, job.params, job.progress, progress);
        lease.check();
        await store.finish(id, 'succeeded', { result }, owner);
        logger.info({ job: id, tenant: job.params.tenantId, into: result.tenantId, at: job.params.at }, 'tenant restored');
        return;
      }
      await backups.clearInterrupted(id);
      const wanted = (job.params.shards as string[] | undefined) ?? [];
      const done = new Set((job.progress.done as string[] | undefined) ?? []);
      const shards = new Map((await this.deps.shards()).map((s) => [s.id, s]));
      const made: string[] = [...((job.progress.backups as string[] | undefined) ?? [])];
      for (const shardId of wanted) {
        if (done.has(shardId)) continue;
        const shard = shards.get(shardId);
        if (!shard) throw new Error(`shard ${shardId} is no longer in the fleet`);
        await progress({ current: shardId });
        const backup = await backups.take(shard, id);
        done.add(shardId);
        made.push(backup.id);
        await progress({ done: [...done], backups: made, shardsDone: done.size, shardsTotal: wanted.length, current: null });
        logger.info({ job: id, shard: shardId, backup: backup.id, bytes: backup.sizeBytes }, 'base backup taken');
      }
      lease.check();
      await store.finish(id, 'succeeded', { result: { backups: made } }, owner);
    } catch (err) {
      // lost to another gateway: it resumes the job from its recorded progress (LeasedRuns logs it)
      if (err instanceof LeaseLost || lease.lost) throw err;
      logger.error({ job: id, err: (err as Error).message }, 'backup or restore job failed');
      await store.finish(id, 'failed', { error: (err as Error).message }, owner);
    }
  }
}
