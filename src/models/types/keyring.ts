import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { FieldIntegrityError, type FieldPlace } from '../../errors/errors.js';

/** Bound to its place: the associated data names the tenant, table, column and row. */
const BOUND = 'enc2';
/** Written before enc2, without associated data: still read, rewritten as enc2 on the row's next write. */
const LEGACY = 'enc1';

export type SealFormat = typeof BOUND | typeof LEGACY;

/**
 * The associated data of an enc2 value: a JSON array, so no choice of tenant id, table,
 * column or row id can make two different places serialize alike (a separator could).
 */
function associatedData(place: FieldPlace): Buffer {
  return Buffer.from(JSON.stringify([BOUND, place.tenantId, place.table, place.column, place.rowId]), 'utf8');
}

/**
 * AES-256-GCM keys by id. Ciphertext carries the id of the key that made it, so keys can
 * rotate: new writes use `currentKeyId`, old rows stay readable while their key is kept.
 * A value is sealed to its place (tenant, table, column, row id) as associated data, so a
 * ciphertext copied into another row, column or tenant no longer opens.
 * Keys live in non-enumerable private fields so they never reach a log or JSON dump.
 */
export class Keyring {
  readonly #keys: ReadonlyMap<string, Buffer>;
  readonly currentKeyId: string;

  constructor(keys: Readonly<Record<string, string>>, currentKeyId: string) {
    const map = new Map<string, Buffer>();
    for (const [id, base64] of Object.entries(keys)) {
      if (!/^[A-Za-z0-9_-]{1,32}$/.test(id)) throw new Error(`encryption key id ${JSON.stringify(id)} must be 1-32 of [A-Za-z0-9_-]`);
      const key = Buffer.from(base64, 'base64');
      if (key.length !== 32) throw new Error(`encryption key ${id} must be 32 bytes (base64), got ${key.length}`);
      map.set(id, key);
    }
    if (!map.has(currentKeyId)) throw new Error(`current encryption key ${currentKeyId} is not in the keyring`);
    this.#keys = map;
    this.currentKeyId = currentKeyId;
  }

  /** `enc2:<keyId>:<iv>:<tag>:<ciphertext>` (base64url parts); a fresh random IV every time. */
  seal(plaintext: string, place: FieldPlace): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#keys.get(this.currentKeyId)!, iv);
    cipher.setAAD(associatedData(place));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [BOUND, this.currentKeyId, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join(':');
  }

  /**
   * The plaintext of a value stored at `place`. A value that is malformed, tampered with or
   * sealed to another place is a `FieldIntegrityError`; a key rotated out is a plain error
   * (the configuration is wrong, not the data).
   */
  open(stored: string, place: FieldPlace): string {
    const [format, keyId, iv, tag, body, extra] = stored.split(':');
    if ((format !== BOUND && format !== LEGACY) || !keyId || iv === undefined || tag === undefined || body === undefined || extra !== undefined) {
      throw new FieldIntegrityError(place, { cause: new Error('not an encrypted value') });
    }
    const key = this.#keys.get(keyId);
    if (!key) throw new Error(`encryption key ${keyId} is not available (rotated out?)`);
    const authTag = Buffer.from(tag, 'base64url');
    // GCM accepts tags as short as 4 bytes, each byte less a factor of 256 easier to forge:
    // only the full 16 bytes this class writes are taken
    if (authTag.length !== 16) throw new FieldIntegrityError(place, { cause: new Error('authentication tag must be 16 bytes') });
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), { authTagLength: 16 });
      if (format === BOUND) decipher.setAAD(associatedData(place));
      decipher.setAuthTag(authTag);
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
    } catch (err) {
      throw new FieldIntegrityError(place, { cause: err });
    }
  }

  /** The format of a stored value (`enc1` is read but never written), or undefined when it is none. */
  static formatOf(stored: string): SealFormat | undefined {
    const format = stored.slice(0, stored.indexOf(':'));
    return format === BOUND || format === LEGACY ? format : undefined;
  }

  /** The key id a stored value was made with (for re-encryption after a rotation). */
  static keyIdOf(stored: string): string | undefined {
    const parts = stored.split(':');
    return Keyring.formatOf(stored) === undefined ? undefined : parts[1];
  }

  toJSON(): string {
    return `[Keyring current=${this.currentKeyId}]`;
  }
}
