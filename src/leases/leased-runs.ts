import type { Logger } from 'pino';
import { HeldLease, LeaseLost } from './held-lease.js';

export interface LeasedRunsOptions {
  /** what a record is, for messages and logs: "backup job", "schema change" */
  readonly what: string;
  /** the log field a record's id goes under */
  readonly logKey: string;
  /** this gateway, as the records' owner */
  readonly owner: string;
  readonly leaseMs: number;
  /** takes or renews the lease on an open record; false when another owner holds a live one */
  readonly claim: (id: string, owner: string, leaseMs: number) => Promise<boolean>;
  readonly logger: Logger;
}

/**
 * The catalog records this gateway runs under a lease, one run per record: a record is
 * claimed, its lease held (HeldLease) while the work runs, and a run whose lease another
 * gateway took ends quietly — that gateway carries the record on. A run is registered
 * before the claim's round trip, so two scans of one gateway never run a record twice.
 */
export class LeasedRuns {
  readonly #running = new Map<string, Promise<void>>();

  constructor(private readonly options: LeasedRunsOptions) {}

  /** Runs `work` for the record unless it runs here already (then its run) or another owner holds it (then nothing). */
  run(id: string, work: (lease: HeldLease) => Promise<void>): Promise<void> {
    const running = this.#running.get(id);
    if (running) return running;
    const { what, logKey, logger } = this.options;
    const run = this.#claimed(id, work)
      .catch((err: unknown) => logger.error({ [logKey]: id, err: (err as Error).message }, `${what} run crashed`))
      .finally(() => this.#running.delete(id));
    this.#running.set(id, run);
    return run;
  }

  /** The record's run on this gateway, if one is going. */
  running(id: string): Promise<void> | undefined {
    return this.#running.get(id);
  }

  /** Resolves once every run going now has ended. */
  async settled(): Promise<void> {
    await Promise.allSettled(this.#running.values());
  }

  async #claimed(id: string, work: (lease: HeldLease) => Promise<void>): Promise<void> {
    const { what, logKey, owner, leaseMs, claim, logger } = this.options;
    if (!(await claim(id, owner, leaseMs))) return;
    const lease = new HeldLease(`${what} ${id}`, leaseMs, () => claim(id, owner, leaseMs), (err) =>
      logger.warn({ [logKey]: id, err: err.message }, `${what} lease renewal failed`),
    );
    try {
      await work(lease);
    } catch (err) {
      // the gateway that took the record over carries it on from its recorded progress
      if (!(err instanceof LeaseLost) && !lease.lost) throw err;
      logger.warn({ [logKey]: id, err: (err as Error).message }, `${what} taken over by another gateway`);
    } finally {
      lease.release();
    }
  }
}
