import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

/**
 * Short secrets sealed with AES-256-GCM for one purpose: a key per purpose derived (HKDF)
 * from each key of the encryption keyring, so a value sealed for one use never opens as
 * another, and associated data binding it to where it belongs (a tenant, a shard). The
 * text is `<prefix>.<keyId>.<iv ‖ ciphertext ‖ tag, base64url>`: only characters that need
 * no escaping in a header or a URL's userinfo. Any key of the ring opens what it sealed, so
 * keys rotate by adding one and making it current; a value sealed with a key since
 * removed no longer opens.
 */
export class SealedBox {
  readonly #keys: ReadonlyMap<string, Buffer>;
  readonly currentKeyId: string;

  constructor(
    keys: Readonly<Record<string, string>>,
    currentKeyId: string,
    /** the HKDF info: one string per purpose */
    purpose: string,
    /** the text's first part, naming the format */
    readonly prefix: string,
  ) {
    const derived = new Map<string, Buffer>();
    for (const [id, base64] of Object.entries(keys)) {
      if (!KEY_ID.test(id)) throw new Error(`encryption key id ${JSON.stringify(id)} must be 1-32 of [A-Za-z0-9_-]`);
      derived.set(id, Buffer.from(hkdfSync('sha256', Buffer.from(base64, 'base64'), Buffer.alloc(0), purpose, 32)));
    }
    if (!derived.has(currentKeyId)) throw new Error(`current encryption key ${currentKeyId} is not in the keyring`);
    this.#keys = derived;
    this.currentKeyId = currentKeyId;
  }

  seal(plaintext: string, associatedData: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#keys.get(this.currentKeyId)!, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(associatedData, 'utf8'));
    const body = Buffer.concat([iv, cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${this.prefix}.${this.currentKeyId}.${body.toString('base64url')}`;
  }

  /** Whether `text` has this box's format (whether or not it opens). */
  holds(text: string): boolean {
    return text.startsWith(`${this.prefix}.`);
  }

  /** The key id a sealed text names (to re-seal what an older key sealed). */
  keyIdOf(text: string): string | undefined {
    const [prefix, keyId] = text.split('.');
    return prefix === this.prefix ? keyId : undefined;
  }

  /** undefined for anything this keyring did not seal with this associated data. */
  open(text: string, associatedData: string, maxBytes = 4096): string | undefined {
    const [prefix, keyId, data, extra] = text.split('.');
    if (prefix !== this.prefix || keyId === undefined || data === undefined || extra !== undefined || !/^[A-Za-z0-9_-]+$/.test(data)) return undefined;
    const key = this.#keys.get(keyId);
    const body = Buffer.from(data, 'base64url');
    if (key === undefined || body.length < IV_BYTES + TAG_BYTES + 1 || body.length > maxBytes) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, body.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(associatedData, 'utf8'));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      return Buffer.concat([decipher.update(body.subarray(IV_BYTES, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }
}
