import type { TransactionRecord, TransactionStore, TxError } from '../catalog/transaction-store.js';
import type { StepOutcome, TransferSteps } from '../data/transfers/transfer-steps.js';
import { isDefinitive, LeaseLost, txError, type StepRunner } from './step-runner.js';
import { transferSpecs } from './transfer-specs.js';

export interface ProtocolOutcome {
  readonly state: 'committed' | 'compensated' | 'aborted';
  readonly error: TxError | null;
}

/**
 * The saga: reserve on the supplier's shard → apply on the buyer's → confirm on the
 * supplier's, each a local transaction whose ledger row makes it idempotent. The stage is
 * logged before each step runs, so whoever resumes it (this pod, or recovery on another)
 * runs that step again and the ledger says whether it had happened. Until the buyer's side
 * applied, a failure for good compensates: reverse (a marker only, unless the receipt
 * happened) and release; after it, the saga only goes forward.
 */
export class Saga {
  constructor(
    private readonly deps: { readonly steps: TransferSteps; readonly runner: StepRunner; readonly store: TransactionStore },
    private readonly owner: string,
  ) {}

  async drive(tx: TransactionRecord, deadline: number): Promise<ProtocolOutcome> {
    const { runner, steps } = this.deps;
    const step = (tenant: string, action: keyof typeof transferSpecs): Promise<StepOutcome> =>
      runner.run(tx.id, tenant, action, deadline, (session) => steps.run(session, transferSpecs[action](tx)));
    let stage = tx.stage;
    let error = tx.error;

    if (stage === 'reserve') {
      try {
        const r = await step(tx.supplier, 'reserve');
        stage = r === 'blocked' ? 'abort' : 'apply';
      } catch (err) {
        if (!isDefinitive(err)) throw err;
        stage = 'abort';
        error = txError(err);
      }
      await this.#stage(tx, stage, error);
    }
    if (stage === 'apply') {
      try {
        const r = await step(tx.buyer, 'apply');
        stage = r === 'blocked' ? 'compensate' : 'confirm';
      } catch (err) {
        if (!isDefinitive(err)) throw err;
        stage = 'compensate';
        error = txError(err);
      }
      await this.#stage(tx, stage, error);
    }
    if (stage === 'confirm') {
      await step(tx.supplier, 'confirm');
      return { state: 'committed', error: null };
    }
    if (stage === 'compensate') {
      await step(tx.buyer, 'reverse');
      await step(tx.supplier, 'release');
      return { state: 'compensated', error };
    }
    // abort: the reservation never happened (or is undone here); its release row keeps a late one out
    const released = await step(tx.supplier, 'release');
    return { state: released === 'applied' ? 'compensated' : 'aborted', error };
  }

  async #stage(tx: TransactionRecord, stage: string, error: TxError | null): Promise<void> {
    if (!(await this.deps.store.setStage(tx.id, this.owner, stage, error ?? undefined))) throw new LeaseLost(`transaction ${tx.id} is no longer ours`);
  }
}
