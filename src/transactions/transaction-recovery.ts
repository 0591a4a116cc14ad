import type { Logger } from 'pino';
import type { TransactionStore } from '../catalog/transaction-store.js';
import type { ShardRegistry } from '../cluster/shard-registry.js';
import { transactionOfGid, type PreparedTransactions } from '../data/transfers/prepared-transactions.js';
import type { TransferCoordinator } from './transfer-coordinator.js';

export interface TransactionRecoveryOptions {
  /** `transactions.recoveryIntervalMs`: how often every pod looks for what nobody finishes */
  readonly intervalMs: number;
  /** a prepared transaction the log has never heard of is rolled back once it is this old */
  readonly orphanAfterMs: number;
  /** transactions one pass takes at most */
  readonly batch: number;
}

/**
 * The recovery loop every gateway pod runs: each pass claims pending transactions whose
 * lease lapsed (their pod died, or gave them up to answer 202) and drives them to an end,
 * then sweeps every shard primary for prepared transactions of ours the log has decided
 * (committed or rolled back as it says: a pod that died between the decision and the
 * second phase) or never logged. The lease makes one pod work a transaction at a time.
 */
export class TransactionRecovery {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(
    private readonly deps: {
      readonly coordinator: Pick<TransferCoordinator, 'recover'>;
      readonly store: Pick<TransactionStore, 'states'>;
      readonly prepared: PreparedTransactions;
      readonly registry: Pick<ShardRegistry, 'all'>;
      readonly logger: Logger;
    },
    private readonly options: TransactionRecoveryOptions,
  ) {}

  start(): void {
    this.#timer = setInterval(() => void this.pass(), this.options.intervalMs);
    this.#timer.unref();
    void this.pass();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  /** One pass (one at a time on this pod). */
  async pass(): Promise<void> {
    this.#running ??= this.#pass().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #pass(): Promise<void> {
    try {
      await this.deps.coordinator.recover(this.options.batch);
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message }, 'transaction recovery: claiming failed');
    }
    for (const shard of this.deps.registry.all()) {
      try {
        await this.#sweep(shard.primary);
      } catch (err) {
        this.deps.logger.warn({ shard: shard.id, err: (err as Error).message }, 'transaction recovery: prepared sweep skipped a shard');
      }
    }
  }

  async #sweep(node: Parameters<PreparedTransactions['list']>[0]): Promise<void> {
    const prepared = await this.deps.prepared.list(node);
    if (prepared.length === 0) return;
    const ids = prepared.map((p) => transactionOfGid(p.gid)).filter((id): id is string => id !== undefined);
    const states = await this.deps.store.states(ids);
    for (const { gid, preparedAt } of prepared) {
      const id = transactionOfGid(gid)!;
      const tx = states.get(id);
      let commit: boolean;
      if (tx === undefined) {
        if (Date.now() - new Date(preparedAt).getTime() < this.options.orphanAfterMs) continue;
        commit = false;
      } else if (tx.decision === 'commit') {
        commit = true;
      } else if (tx.decision === 'abort' || tx.state !== 'pending') {
        commit = false;
      } else {
        continue; // undecided and pending: its holder (or the claim above) decides it
      }
      await this.deps.prepared.finish(node, gid, commit);
      this.deps.logger.info({ transaction: id, gid, shard: node.shardId, commit }, 'transaction recovery: prepared transaction resolved');
    }
  }
}
