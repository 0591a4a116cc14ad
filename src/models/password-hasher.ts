import { scrypt, randomBytes, timingSafeEqual, type ScryptOptions } from 'node:crypto';

function scryptAsync(password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/**
 * Passwords are hashed with scrypt (a slow KDF) on create and on change. The encoded form
 * carries its parameters, so raising the cost later does not break existing hashes.
 */
export class PasswordHasher {
  readonly #cost: number;

  constructor(cost: number) {
    this.#cost = cost;
  }

  async hash(password: string): Promise<string> {
    const salt = randomBytes(16);
    const key = await scryptAsync(password, salt, 32, { N: this.#cost, r: 8, p: 1, maxmem: 256 * this.#cost * 8 + 1024 * 1024 });
    return `scrypt$${this.#cost}$${salt.toString('base64')}$${key.toString('base64')}`;
  }

  async verify(password: string, encoded: string): Promise<boolean> {
    const [scheme, costText, saltText, keyText] = encoded.split('$');
    if (scheme !== 'scrypt' || !costText || !saltText || !keyText) return false;
    const cost = Number(costText);
    const expected = Buffer.from(keyText, 'base64');
    const actual = await scryptAsync(password, Buffer.from(saltText, 'base64'), expected.length, {
      N: cost,
      r: 8,
      p: 1,
      maxmem: 256 * cost * 8 + 1024 * 1024,
    });
    return timingSafeEqual(actual, expected);
  }
}
