import { Transaction } from 'sequelize';
import type { ShardNode } from '../cluster/shard-node.js';
import type { Lsn } from '../cluster/lsn.js';
import { retrySerializable, type RetryHooks, type RetryPolicy } from './retry-serializable.js';

export type IsolationLevel = 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE';

const LEVELS: Record<IsolationLevel, Transaction.ISOLATION_LEVELS> = {
  'READ COMMITTED': Transaction.ISOLATION_LEVELS.READ_COMMITTED,
  'REPEATABLE READ': Transaction.ISOLATION_LEVELS.REPEATABLE_READ,
  SERIALIZABLE: Transaction.ISOLATION_LEVELS.SERIALIZABLE,
};

export interface TransactionOptions {
  /** the tenant the transaction's statements are scoped to (row-level security) */
  readonly tenantId: string;
  /** default READ COMMITTED */
  readonly isolation?: IsolationLevel | undefined;
  /** re-run the whole transaction on 40001/40P01 (then `work` must be safe to re-run) */
  readonly retry?: RetryPolicy | undefined;
  readonly retryHooks?: RetryHooks | undefined;
  /** told the node's WAL position read after the commit, in the commit's round trip (ShardNode.transactionCommitted) */
  readonly onCommitted?: ((lsn: Lsn | undefined) => void) | undefined;
}

/**
 * A write transaction on a primary's own Sequelize instance. CLS is never enabled (it is
 * static across instances and sends one shard's queries to another), so the transaction
 * is passed explicitly; the assertion catches a model of another node sneaking in.
 * Reached through `TenantSession`, which chose the node and names the tenant.
 */
export async function nodeTransaction<T>(node: ShardNode, work: (t: Transaction, attempt: number) => Promise<T>, options: TransactionOptions): Promise<T> {
  if (node.role !== 'primary') throw new Error(`refusing to open a write transaction on ${node.shardId}/${node.name}`);
  const isolationLevel = LEVELS[options.isolation ?? 'READ COMMITTED'];
  const checked = (attempt: number) => async (t: Transaction) => {
    if ((t as unknown as { sequelize: unknown }).sequelize !== node.models.User.sequelize) throw new Error('transaction and models belong to different connections');
    return work(t, attempt);
  };
  const onCommitted = options.onCommitted;
  // begun scoped to the tenant: until the scope runs, row-level security shows no row
  const once =
    onCommitted === undefined
      ? (attempt: number) => node.transaction(options.tenantId, { isolationLevel }, checked(attempt))
      : async (attempt: number) => {
          const { result, lsn } = await node.transactionCommitted(options.tenantId, { isolationLevel }, checked(attempt));
          onCommitted(lsn);
          return result;
        };
  return options.retry === undefined ? once(1) : retrySerializable(once, options.retry, options.retryHooks);
}
