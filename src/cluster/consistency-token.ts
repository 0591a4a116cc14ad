import { SealedBox } from '../models/types/sealed-box.js';
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

const SEALED = 't1';
const PURPOSE = 'shardgate consistency token v1';

/**
 * Tokens as clients see them: the plain token sealed (`SealedBox`: AES-256-GCM under a key
 * derived from each key of the encryption keyring) with the tenant as associated data. A
 * client learns nothing of a shard's WAL position, cannot make a token up (a far-future
 * position would park its reads on the primary), and cannot use another tenant's. Every
 * gateway of the fleet has the same keyring, so any of them opens any other's token; a
 * token sealed with a key since rotated out is refused like a malformed one.
 */
export class ConsistencyTokens {
  readonly #box: SealedBox;

  constructor(keys: Readonly<Record<string, string>>, currentKeyId: string) {
    this.#box = new SealedBox(keys, currentKeyId, PURPOSE, SEALED);
  }

  seal(token: ConsistencyToken, tenantId: string): string {
    return this.#box.seal(encodeToken(token), tenantId);
  }

  /** undefined for anything this fleet did not seal for this tenant. */
  open(text: string, tenantId: string): ConsistencyToken | undefined {
    const plain = this.#box.open(text, tenantId, 512);
    return plain === undefined ? undefined : decodeToken(plain);
  }
}
