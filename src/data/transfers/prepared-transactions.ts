import type { ShardNode } from '../../cluster/shard-node.js';

/** The prefix of every prepared transaction shardgate makes: `sg_<transaction id, hex>_<side>`. */
export const GID_PREFIX = 'sg_';

export type Side = 's' | 'b';

export function gidOf(transactionId: string, side: Side): string {
  return `${GID_PREFIX}${transactionId.replaceAll('-', '')}_${side}`;
}

/** The transaction id a gid of ours names, or undefined for anyone else's. */
export function transactionOfGid(gid: string): string | undefined {
  const m = /^sg_([0-9a-f]{32})_[sb]$/.exec(gid);
  if (!m) return undefined;
  const h = m[1]!;
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** 42704: no prepared transaction of that name (already finished, or never prepared). */
const UNDEFINED_OBJECT = '42704';

/**
 * Prepared transactions on a shard primary, by name: the second phase of two-phase commit
 * and what recovery finds left behind. Finishing one that no longer exists is not an
 * error: the decision in the log says which way it went.
 */
export class PreparedTransactions {
  /** COMMIT PREPARED or ROLLBACK PREPARED; false when there was none of that name. */
  async finish(node: ShardNode, gid: string, commit: boolean): Promise<boolean> {
    if (transactionOfGid(gid) === undefined) throw new Error(`not a shardgate gid: ${gid}`);
    try {
      // names are code-made (checked above): nothing to quote, and the statement takes no parameters
      await node.query(`${commit ? 'COMMIT' : 'ROLLBACK'} PREPARED '${gid}'`, []);
      return true;
    } catch (err) {
      const code = (err as { parent?: { code?: string } }).parent?.code;
      if (code === UNDEFINED_OBJECT) return false;
      throw err;
    }
  }

  /** Ours on this node's database, with when each was prepared. */
  async list(node: ShardNode): Promise<Array<{ gid: string; preparedAt: Date }>> {
    return node.query<{ gid: string; preparedAt: Date }>(
      `SELECT gid, prepared AS "preparedAt" FROM pg_prepared_xacts WHERE database = current_database() AND gid LIKE '${GID_PREFIX}%'`,
      [],
    );
  }
}
