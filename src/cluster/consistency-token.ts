import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
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
const INFO = 'shardgate consistency token v1';

/**
 * Tokens as clients see them: the plain token sealed with AES-256-GCM under a key derived
 * (HKDF) from each key of the encryption keyring, the tenant as associated data. A client
 * learns nothing of a shard's WAL position, cannot make a token up (a far-future position
 * would park its reads on the primary), and cannot use another tenant's. Every gateway of
 * the fleet has the same keyring, so any of them opens any other's token; a token sealed
 * with a key since rotated out is refused like a malformed one.
 */
export class ConsistencyTokens {
  readonly #keys: ReadonlyMap<string, Buffer>;
  readonly #currentKeyId: string;

  constructor(keys: Readonly<Record<string, string>>, currentKeyId: string) {
    const derived = new Map<string, Buffer>();
    for (const [id, base64] of Object.entries(keys)) {
      derived.set(id, Buffer.from(hkdfSync('sha256', Buffer.from(base64, 'base64'), Buffer.alloc(0), INFO, 32)));
    }
    if (!derived.has(currentKeyId)) throw new Error(`current encryption key ${currentKeyId} is not in the keyring`);
    this.#keys = derived;
    this.#currentKeyId = currentKeyId;
  }

  seal(token: ConsistencyToken, tenantId: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#keys.get(this.#currentKeyId)!, iv, { authTagLength: 16 });
    cipher.setAAD(Buffer.from(tenantId, 'utf8'));
    const body = Buffer.concat([iv, cipher.update(encodeToken(token), 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${SEALED}.${this.#currentKeyId}.${body.toString('base64url')}`;
  }

  /** undefined for anything this fleet did not seal for this tenant. */
  open(text: string, tenantId: string): ConsistencyToken | undefined {
    const [format, keyId, data, extra] = text.split('.');
    if (format !== SEALED || keyId === undefined || data === undefined || extra !== undefined || !/^[A-Za-z0-9_-]+$/.test(data)) return undefined;
    const key = this.#keys.get(keyId);
    const body = Buffer.from(data, 'base64url');
    if (key === undefined || body.length < 12 + 16 + 1 || body.length > 512) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, body.subarray(0, 12), { authTagLength: 16 });
      decipher.setAAD(Buffer.from(tenantId, 'utf8'));
      decipher.setAuthTag(body.subarray(body.length - 16));
      const plain = Buffer.concat([decipher.update(body.subarray(12, body.length - 16)), decipher.final()]).toString('utf8');
      return decodeToken(plain);
    } catch {
      return undefined;
    }
  }
}
