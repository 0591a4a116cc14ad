import type { Logger } from 'pino';
import type { StepRecord, TransactionStore, TxError } from '../catalog/transaction-store.js';
import type { TenantSession } from '../data/tenant-session.js';
import type { TenantSessions } from '../data/tenant-sessions.js';
import { GatewayError } from '../errors/errors.js';

/** A failure no retry can mend: the request was wrong, or the data says no. */
export function isDefinitive(err: unknown): err is GatewayError {
  return err instanceof GatewayError && ['VALIDATION_FAILED', 'INSUFFICIENT_STOCK', 'NOT_FOUND', 'NOT_PARTNERS'].includes(err.code);
}

export function txError(err: unknown): TxError {
  if (err instanceof GatewayError) return { code: err.code, detail: err.message, field: err.field };
  return { code: 'INTERNAL', detail: err instanceof Error ? err.message : String(err) };
}

/** Ran out of time on transient failures: the transaction stays pending, recovery resumes it. */
export class StillPending extends Error {
  constructor(readonly last: TxError) {
    super(`still pending: ${last.detail}`);
  }
}

/** Another pod holds the transaction now: stop touching it (the one error every leased runner stops on). */
export { LeaseLost } from '../leases/held-lease.js';

export interface StepRunnerOptions {
  /** this gateway's id, as owner in the log */
  readonly owner: string;
  /** the first retry's wait; doubled up to maxBackoffMs */
  readonly firstBackoffMs: number;
  readonly maxBackoffMs: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs one step of a distributed transaction against a tenant's current shard until it
 * succeeds, fails for good, or the drive's deadline passes: each attempt opens a fresh
 * session (a tenant that moved meanwhile is found on its new shard), transient failures
 * (a fenced tenant, a shard down or busy, a timeout, the catalog away) are retried with
 * backoff, and the step's outcome is appended to the log — its first wait too, so an
 * operator sees what it is waiting for.
 */
export class StepRunner {
  constructor(
    private readonly deps: { readonly sessions: TenantSessions; readonly store: TransactionStore; readonly logger: Logger },
    private readonly options: StepRunnerOptions,
  ) {}

  async run<T>(transactionId: string, tenantId: string, action: string, deadline: number, work: (session: TenantSession) => Promise<T>): Promise<T> {
    return this.attempt(transactionId, { tenantId, action }, deadline, async (where) => {
      const session = this.deps.sessions.open(tenantId, { strong: true });
      where.shard = session.shard.id;
      return work(session);
    });
  }

  /**
   * The same for a step that is not one tenant's statement on its shard (an erase's catalog
   * changes, or its deletes on every shard): `where.shard` names where it ran, for the log.
   */
  async attempt<T>(
    transactionId: string,
    step: { readonly tenantId: string; readonly action: string; readonly shard?: string },
    deadline: number,
    work: (where: { shard: string; detail?: Record<string, unknown> }) => Promise<T>,
  ): Promise<T> {
    let backoff = this.options.firstBackoffMs;
    let waited = false;
    const { tenantId, action } = step;
    for (;;) {
      const where: { shard: string; detail?: Record<string, unknown> } = { shard: step.shard ?? '?' };
      try {
        const result = await work(where);
        await this.#log(transactionId, { shard: where.shard, tenantId, action, state: 'done', error: null, detail: where.detail ?? null });
        return result;
      } catch (err) {
        if (isDefinitive(err)) {
          await this.#log(transactionId, { shard: where.shard, tenantId, action, state: 'failed', error: err.message });
          throw err;
        }
        const error = txError(err);
        if (!waited) {
          waited = true;
          await this.#log(transactionId, { shard: where.shard, tenantId, action, state: 'waiting', error: `${error.code}: ${error.detail}` });
          await this.deps.store.noteFailure(transactionId, error).catch(() => undefined);
        }
        if (performance.now() + backoff > deadline) throw new StillPending(error);
        await sleep(backoff);
        backoff = Math.min(backoff * 2, this.options.maxBackoffMs);
      }
    }
  }

  /** The log is best effort for a step that already happened: the ledger on the shard is the truth. */
  async #log(transactionId: string, step: Omit<StepRecord, 'at' | 'owner'>): Promise<void> {
    try {
      await this.deps.store.appendStep(transactionId, { ...step, owner: this.options.owner });
    } catch (err) {
      this.deps.logger.warn({ transaction: transactionId, action: step.action, err: (err as Error).message }, 'transaction step not logged');
    }
  }
}
