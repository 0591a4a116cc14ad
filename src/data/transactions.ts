import { Transaction } from 'sequelize';
import type { ShardNode } from '../cluster/shard-node.js';
import { translateDbError } from './db-errors.js';

/**
 * Runs `work` in a READ COMMITTED transaction on the node's own Sequelize instance.
 * CLS is never enabled (it is static across instances and sends one shard's queries to
 * another), so the transaction is passed explicitly; the assertion catches a model of
 * another node sneaking in.
 */
export async function inTransaction<T>(node: ShardNode, work: (t: Transaction) => Promise<T>): Promise<T> {
  if (node.role !== 'primary') throw new Error(`refusing to open a write transaction on ${node.shardId}/${node.name}`);
  return node.sequelize.transaction({ isolationLevel: Transaction.ISOLATION_LEVELS.READ_COMMITTED }, async (t) => {
    if ((t as unknown as { sequelize: unknown }).sequelize !== node.models.User.sequelize) throw new Error('transaction and models belong to different connections');
    return work(t);
  });
}

/** A write transaction whose failures come back as typed gateway errors. */
export async function write<T>(node: ShardNode, work: (t: Transaction) => Promise<T>, uniqueFields: Readonly<Record<string, string>> = {}): Promise<T> {
  try {
    return await inTransaction(node, work);
  } catch (err) {
    throw translateDbError(err, node.shardId, uniqueFields);
  }
}

/**
 * A write that is a single autocommitted statement: atomic like any statement (writable
 * CTEs included), without the BEGIN / SET TRANSACTION / COMMIT round trips of `write`.
 * Same primary-only guard and error mapping.
 */
export async function writeStatement<T>(node: ShardNode, work: () => Promise<T>): Promise<T> {
  if (node.role !== 'primary') throw new Error(`refusing to write on ${node.shardId}/${node.name}`);
  try {
    return await work();
  } catch (err) {
    throw translateDbError(err, node.shardId);
  }
}

/** A read (no transaction) whose failures come back as typed gateway errors. */
export async function read<T>(node: ShardNode, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw translateDbError(err, node.shardId);
  }
}
