import type { TransactionRecord, TransactionStore, TxDecision } from '../catalog/transaction-store.js';
import { gidOf, type PreparedTransactions, type Side } from '../data/transfers/prepared-transactions.js';
import type { TransferSteps } from '../data/transfers/transfer-steps.js';
import type { ProtocolOutcome } from './saga.js';
import { isDefinitive, LeaseLost, StillPending, txError, type StepRunner } from './step-runner.js';
import { transferSpecs } from './transfer-specs.js';

/**
 * Two-phase commit: each side's changes prepared on its shard (`PREPARE TRANSACTION
 * 'sg_<id>_s'` on the supplier's, `_b` on the buyer's: locks held, nothing visible), then
 * the decision written to the catalog — once, the first writer wins — and only then
 * COMMIT PREPARED (or ROLLBACK PREPARED) on each. A side that cannot prepare in time is
 * presumed to abort. Resumed from its stage by whoever holds it next; a prepared
 * transaction the log does not account for is resolved by the recovery loop's sweep.
 */
/** Test seam: told between the phases (a hook that never resolves is a pod that stopped there). */
export interface TwoPhaseHooks {
  afterPrepare?(tx: TransactionRecord): Promise<void>;
  afterDecision?(tx: TransactionRecord, decision: TxDecision): Promise<void>;
}

export class TwoPhaseCommit {
  constructor(
    private readonly deps: {
      readonly steps: TransferSteps;
      readonly runner: StepRunner;
      readonly store: TransactionStore;
      readonly prepared: PreparedTransactions;
      readonly hooks?: TwoPhaseHooks | undefined;
    },
    private readonly owner: string,
  ) {}

  async drive(tx: TransactionRecord, deadline: number): Promise<ProtocolOutcome> {
    let error = tx.error;
    let decision: TxDecision | null = tx.decision;
    if (decision === null) {
      const failed = await this.#prepareInOrder(tx, deadline);
      if (failed !== undefined && !isDefinitive(failed.reason) && !(failed.reason instanceof StillPending)) throw failed.reason;
      if (failed !== undefined) error = failed.reason instanceof StillPending ? failed.reason.last : txError(failed.reason);
      await this.deps.hooks?.afterPrepare?.(tx);
      decision = await this.deps.store.decide(tx.id, failed === undefined ? 'commit' : 'abort');
      if (!(await this.deps.store.setStage(tx.id, this.owner, decision, decision === 'abort' && error ? error : undefined))) {
        throw new LeaseLost(`transaction ${tx.id} is no longer ours`);
      }
    }
    await this.deps.hooks?.afterDecision?.(tx, decision);
    const commit = decision === 'commit';
    await Promise.all((['s', 'b'] as const).map((side) => this.#finish(tx, side, commit, deadline)));
    return commit ? { state: 'committed', error: null } : { state: 'aborted', error: error ?? { code: 'ABORTED', detail: 'aborted' } };
  }

  /**
   * The two sides prepared one after the other, the lower tenant id first. Prepared side by
   * side at once, two transfers over the same rows could each lock one side and wait for the
   * other's on the other shard: a deadlock no PostgreSQL sees, broken only by the statement
   * timeout (every such transfer aborted). With every transfer taking its tenants' row locks
   * in one global order, no wait can close a circle across shards. The first failure stops
   * it: the side not prepared has nothing to roll back.
   */
  async #prepareInOrder(tx: TransactionRecord, deadline: number): Promise<{ reason: unknown } | undefined> {
    const order: Side[] = tx.supplier <= tx.buyer ? ['s', 'b'] : ['b', 's'];
    for (const side of order) {
      try {
        await this.#prepare(tx, side, deadline);
      } catch (reason) {
        return { reason };
      }
    }
    return undefined;
  }

  async #prepare(tx: TransactionRecord, side: Side, deadline: number): Promise<void> {
    const { runner, steps } = this.deps;
    const tenant = side === 's' ? tx.supplier : tx.buyer;
    const spec = side === 's' ? transferSpecs.sale(tx) : transferSpecs.purchase(tx);
    await runner.run(tx.id, tenant, side === 's' ? 'prepare sale' : 'prepare purchase', deadline, (session) => steps.prepare(session, spec, gidOf(tx.id, side)));
  }

  async #finish(tx: TransactionRecord, side: Side, commit: boolean, deadline: number): Promise<void> {
    const { runner, steps, prepared } = this.deps;
    const tenant = side === 's' ? tx.supplier : tx.buyer;
    const action = `${commit ? 'commit' : 'rollback'} ${side === 's' ? 'sale' : 'purchase'}`;
    await runner.run(tx.id, tenant, action, deadline, (session) =>
      session.write(async (scoped) => {
        const finished = await prepared.finish(scoped.node, gidOf(tx.id, side), commit);
        if (finished && commit) await steps.committed(session, side === 's' ? transferSpecs.sale(tx) : transferSpecs.purchase(tx));
      }),
    );
  }
}
