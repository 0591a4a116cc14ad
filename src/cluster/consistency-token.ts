import { formatLsn, parseLsn, type Lsn } from './lsn.js';

/**
 * Read-your-writes token: the shard a write went to and the primary's WAL position after
 * it committed. A read carrying it is served only by a node that has replayed that far.
 */
export interface ConsistencyToken {
  readonly shardId: string;
  readonly lsn: Lsn;
}

export function encodeToken(token: ConsistencyToken): string {
  return `${token.shardId}@${formatLsn(token.lsn)}`;
}

/** undefined for anything malformed; the caller decides whether that is a 400. */
export function decodeToken(text: string): ConsistencyToken | undefined {
  const at = text.lastIndexOf('@');
  if (at <= 0) return undefined;
  const lsn = parseLsn(text.slice(at + 1));
  if (lsn === undefined) return undefined;
  return { shardId: text.slice(0, at), lsn };
}
