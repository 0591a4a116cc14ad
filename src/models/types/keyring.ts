import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const FORMAT = 'enc1';

/**
 * AES-256-GCM keys by id. Ciphertext carries the id of the key that made it, so keys can
 * rotate: new writes use `currentKeyId`, old rows stay readable while their key is kept.
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

  /** `enc1:<keyId>:<iv>:<tag>:<ciphertext>` (base64url parts); a fresh random IV every time. */
  encrypt(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#keys.get(this.currentKeyId)!, iv);
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [FORMAT, this.currentKeyId, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join(':');
  }

  decrypt(stored: string): string {
    const [format, keyId, iv, tag, body] = stored.split(':');
    if (format !== FORMAT || !keyId || iv === undefined || tag === undefined || body === undefined) throw new Error('not an encrypted value');
    const key = this.#keys.get(keyId);
    if (!key) throw new Error(`encryption key ${keyId} is not available (rotated out?)`);
    const authTag = Buffer.from(tag, 'base64url');
    // GCM accepts tags as short as 4 bytes, each byte less a factor of 256 easier to forge:
    // only the full 16 bytes this class writes are taken
    if (authTag.length !== 16) throw new Error('not an encrypted value (authentication tag must be 16 bytes)');
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), { authTagLength: 16 });
    decipher.setAuthTag(authTag);
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  }

  /** The key id a stored value was made with (for re-encryption after a rotation). */
  static keyIdOf(stored: string): string | undefined {
    const parts = stored.split(':');
    return parts[0] === FORMAT ? parts[1] : undefined;
  }

  toJSON(): string {
    return `[Keyring current=${this.currentKeyId}]`;
  }
}
