import type { Logger } from 'pino';
import type { JobStore } from '../../catalog/job-store.js';
import type { CatalogPlacement } from '../move/catalog-placement.js';
import type { JobFinisher } from './job-finisher.js';
import { isTerminal } from '../move/move-stage.js';
import type { StopReason, TenantMover } from '../move/tenant-mover.js';

export interface JobRunnerOptions {
  /** this gateway's id in move_jobs.owner */
  readonly owner: string;
  /** moves running at once, across all jobs of this gateway */
  readonly concurrency: number;
  /** ms a claim on a job holds without renewal; another gateway takes the job over after it */
  readonly leaseMs: number;
  /** ms after a move finished before its source's tombstone fence goes (the write lease plus a margin); 0: kept for good */
  readonly tombstoneAfterMs: number;
}

export interface JobRunnerDeps {
  readonly store: JobStore;
  readonly mover: TenantMover;
  readonly logger: Logger;
  /** after the last move of a job: the job kind's own ending (a drain retires its shard) */
  readonly finisher: JobFinisher;
  /** the shard a tenant is placed on now, per the catalog (for the leftover sweeper) */
  readonly placement: Pick<CatalogPlacement, 'placedOn'>;
}

/** At most n tasks at once; the rest wait their turn in order. */
class Slots {
  #free: number;
  readonly #waiting: Array<() => void> = [];
  constructor(n: number) {
    this.#free = Math.max(1, n);
  }
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}

/**
 * Runs move jobs: claims each with a lease (renewed while it runs), runs its moves
 * through a shared number of slots, and at start (and every lease period) picks up
 * open jobs whose owner stopped renewing: a crashed gateway's jobs are resumed.
 */
export class JobRunner {
  readonly #running = new Map<string, { controller: AbortController; done: Promise<void>; renewedAt: number }>();
  readonly #slots: Slots;
  #timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly deps: JobRunnerDeps,
    private readonly options: JobRunnerOptions,
  ) {
    this.#slots = new Slots(options.concurrency);
  }

  start(): void {
    void this.scan();
    const scan = setInterval(() => void this.scan(), this.options.leaseMs);
    const renew = setInterval(() => void this.#renew(), Math.max(100, Math.floor(this.options.leaseMs / 3)));
    scan.unref();
    renew.unref();
    this.#timers = [scan, renew];
  }

  /** Starts a job just created (the caller answered 202 already). */
  async submit(jobId: string): Promise<void> {
    await this.#claimAndRun(jobId);
  }

  /** Claims every open job nobody else holds, and runs it; then retries leftovers of failed moves. */
  async scan(): Promise<void> {
    try {
      for (const jobId of await this.deps.store.claimable(this.options.owner)) await this.#claimAndRun(jobId);
      await this.#sweep();
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message }, 'move job scan failed');
    }
  }

  async #sweep(): Promise<void> {
    for (const move of await this.deps.store.movesWithLeftovers()) {
      const active = await this.deps.store.activeMove(move.tenantId);
      const holds = (await this.deps.placement.placedOn(move.tenantId)) === move.target || active?.target === move.target;
      const left = await this.deps.mover.sweep(move, holds);
      this.deps.logger.info({ move: move.id, left }, left.length === 0 ? 'move leftovers removed' : 'move leftovers remain');
    }
    if (this.options.tombstoneAfterMs <= 0) return;
    for (const move of await this.deps.store.expiredTombstones(this.options.tombstoneAfterMs)) {
      try {
        await this.deps.mover.liftTombstone(move);
        this.deps.logger.info({ move: move.id, tenant: move.tenantId, shard: move.source }, 'tombstone fence lifted: the write lease has passed');
      } catch (err) {
        this.deps.logger.warn({ move: move.id, err: (err as Error).message }, 'tombstone fence not lifted yet');
      }
    }
  }

  async #claimAndRun(jobId: string): Promise<void> {
    if (this.#running.has(jobId)) return;
    if (!(await this.deps.store.claim(jobId, this.options.owner, this.options.leaseMs))) return;
    if (this.#running.has(jobId)) return;
    const controller = new AbortController();
    const done = this.#run(jobId, controller.signal)
      .catch((err: unknown) => {
        if (!controller.signal.aborted) this.deps.logger.error({ job: jobId, err: (err as Error).message }, 'move job crashed');
      })
      .finally(() => this.#running.delete(jobId));
    this.#running.set(jobId, { controller, done, renewedAt: performance.now() });
  }

  async #run(jobId: string, signal: AbortSignal): Promise<void> {
    const { store, mover, logger } = this.deps;
    await store.setJobState(jobId, 'running');
    const open = (await store.moves(jobId)).filter((m) => !isTerminal(m.stage));
    const results = await Promise.allSettled(open.map((m) => this.#slots.run(async () => (signal.aborted ? 'skipped' : mover.run(m, signal)))));
    if (signal.aborted) return;
    for (const r of results) if (r.status === 'rejected') logger.warn({ job: jobId, err: (r.reason as Error).message }, 'move did not finish');

    const job = await store.job(jobId);
    const moves = await store.moves(jobId);
    // a move past cutover only goes forward: its job stays open and a later scan retries it
    if (moves.some((m) => !isTerminal(m.stage))) {
      logger.warn({ job: jobId }, 'moves past cutover could not finish yet; the job is retried at the next scan');
      return;
    }
    const failed = moves.filter((m) => m.stage !== 'done');
    let error = failed.length === 0 ? null : `${failed.length} of ${moves.length} moves did not finish: ${failed.map((m) => `${m.tenantId} (${m.stage}): ${m.error ?? 'unknown error'}`).join('; ')}`;
    if (job) {
      try {
        await this.deps.finisher.finish(job, error === null);
      } catch (err) {
        error = `${error ?? ''}${error ? '; ' : ''}finishing the job failed: ${(err as Error).message}`;
      }
    }
    await store.setJobState(jobId, error === null ? 'succeeded' : 'failed', error);
    logger.info({ job: jobId, kind: job?.kind, moves: moves.length, failed: failed.length }, error === null ? 'move job succeeded' : 'move job failed');
  }

  /**
   * Renews every running job's lease. A job whose lease another gateway took is abandoned
   * here; so is one whose lease could not be renewed for most of its length (the catalog
   * unreachable): another gateway may take it over once it runs out, and two runners must
   * never drive one move.
   */
  async #renew(): Promise<void> {
    for (const [jobId, run] of this.#running) {
      const started = performance.now();
      try {
        if (await this.deps.store.claim(jobId, this.options.owner, this.options.leaseMs)) run.renewedAt = started;
        else run.controller.abort('abandon' satisfies StopReason);
      } catch (err) {
        this.deps.logger.warn({ job: jobId, err: (err as Error).message }, 'move job lease renewal failed');
        if (performance.now() - run.renewedAt > this.options.leaseMs * 0.7) run.controller.abort('abandon' satisfies StopReason);
      }
    }
  }

  /**
   * 'stop': moves not yet at cutover are rolled back and requeued, leases released so
   * another gateway resumes at once. 'abandon': nothing is touched (as if this process
   * died): whoever takes the job over after the lease runs out cleans up.
   */
  async stop(reason: StopReason = 'stop'): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    const runs = [...this.#running.entries()];
    for (const [, run] of runs) run.controller.abort(reason);
    await Promise.all(runs.map(([, run]) => run.done));
    if (reason === 'stop') await Promise.all(runs.map(([jobId]) => this.deps.store.release(jobId, this.options.owner).catch(() => undefined)));
  }
}
