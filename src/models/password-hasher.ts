import { scrypt, randomBytes, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { HashingBusyError } from '../errors/errors.js';

function scryptAsync(password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export interface PasswordHasherOptions {
  /** scrypt's N */
  readonly cost: number;
  /** scrypt computations at once: each holds one of libuv's 4 threads, which DNS and fs need too */
  readonly maxConcurrent?: number;
  /** computations waiting for a slot; past it a hash is refused at once (HASHING_BUSY) */
  readonly maxQueued?: number;
}

/**
 * Passwords are hashed with scrypt (a slow KDF) on create and on change. The encoded form
 * carries its parameters, so raising the cost later does not break existing hashes.
 *
 * At most `maxConcurrent` run at once and `maxQueued` wait, first come first served: a burst
 * of sign-ups must not take every libuv thread (name lookups and file reads queue behind
 * scrypt there), and a queue without a bound would only move the wait into memory.
 */
export class PasswordHasher {
  readonly #cost: number;
  readonly #maxConcurrent: number;
  readonly #maxQueued: number;
  #running = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(options: PasswordHasherOptions) {
    this.#cost = options.cost;
    this.#maxConcurrent = options.maxConcurrent ?? 2;
    this.#maxQueued = options.maxQueued ?? 64;
  }

  async hash(password: string): Promise<string> {
    const salt = randomBytes(16);
    const key = await this.#scrypt(password, salt, 32, this.#cost);
    return `scrypt$${this.#cost}$${salt.toString('base64')}$${key.toString('base64')}`;
  }

  async verify(password: string, encoded: string): Promise<boolean> {
    const [scheme, costText, saltText, keyText] = encoded.split('$');
    if (scheme !== 'scrypt' || !costText || !saltText || !keyText) return false;
    const expected = Buffer.from(keyText, 'base64');
    const actual = await this.#scrypt(password, Buffer.from(saltText, 'base64'), expected.length, Number(costText));
    return timingSafeEqual(actual, expected);
  }

  /** computations running and waiting now */
  get load(): { running: number; waiting: number } {
    return { running: this.#running, waiting: this.#waiting.length };
  }

  async #scrypt(password: string, salt: Buffer, keylen: number, cost: number): Promise<Buffer> {
    await this.#slot();
    try {
      return await scryptAsync(password, salt, keylen, { N: cost, r: 8, p: 1, maxmem: 256 * cost * 8 + 1024 * 1024 });
    } finally {
      const next = this.#waiting.shift();
      // the slot passes straight to the next waiter: `running` stays, nobody overtakes
      if (next !== undefined) next();
      else this.#running--;
    }
  }

  #slot(): Promise<void> {
    if (this.#running < this.#maxConcurrent) {
      this.#running++;
      return Promise.resolve();
    }
    if (this.#waiting.length >= this.#maxQueued) return Promise.reject(new HashingBusyError());
    return new Promise((resolve) => this.#waiting.push(resolve));
  }
}
