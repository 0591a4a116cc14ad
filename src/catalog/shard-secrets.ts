import { SealedBox } from '../models/types/sealed-box.js';
import type { ShardEndpoints, ShardRow } from './catalog-rows.js';

const ENV_REF = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g;
const PURPOSE = 'shardgate catalog shard password v1';
/** the format of a sealed password in a stored URL: no character there needs escaping */
export const SEALED_PASSWORD_PREFIX = 'sg1';

/** A stored shard URL this gateway cannot turn into one it can connect with. */
export class ShardSecretError extends Error {}

type Url = ShardEndpoints['replicas'][number];

/**
 * What the catalog stores of a shard's credentials, and what it hands out. The catalog
 * never holds a password in clear: a URL from a config file may name its password by
 * reference (`${env:NAME}`, kept as written and read from this gateway's environment when
 * the shard is opened, so a password rotates with its Secret and a restart), and any
 * other password is sealed (AES-256-GCM under a key derived from the encryption keyring,
 * the shard as associated data, so a sealed password does not open for another
 * shard). Whoever reads the catalog's database learns no shard's
 * password.
 */
export class ShardSecrets {
  readonly #box: SealedBox;
  readonly #env: Readonly<Record<string, string | undefined>>;

  constructor(keys: Readonly<Record<string, string>>, currentKeyId: string, env: Readonly<Record<string, string | undefined>>) {
    this.#box = new SealedBox(keys, currentKeyId, PURPOSE, SEALED_PASSWORD_PREFIX);
    this.#env = env;
  }

  /** The row as stored: references kept, every other password sealed. */
  conceal<T extends Pick<ShardRow, 'id' | 'primary' | 'replicas' | 'admin'>>(shard: T): T {
    return this.#mapUrls(shard, (url) => this.#concealUrl(url, shard.id));
  }

  /** The row to connect with: references read from the environment, sealed passwords opened. */
  reveal<T extends Pick<ShardRow, 'id' | 'primary' | 'replicas' | 'admin'>>(shard: T): T {
    return this.#mapUrls(shard, (url) => this.#revealUrl(url, shard.id));
  }

  /** Whether a stored row still holds a password in clear or one sealed with an older key. */
  needsResealing(stored: Pick<ShardRow, 'id' | 'primary' | 'replicas' | 'admin'>): boolean {
    let stale = false;
    this.#mapUrls(stored, (url) => {
      const password = url.includes('${env:') ? undefined : passwordOf(url);
      if (password !== undefined && this.#box.keyIdOf(password) !== this.#box.currentKeyId) stale = true;
      return url;
    });
    return stale;
  }

  #concealUrl(url: string, shardId: string): string {
    if (url.includes('${env:')) return url;
    const parsed = parse(url);
    if (parsed === undefined || parsed.password === '') return url;
    const password = decodeURIComponent(parsed.password);
    // already sealed (a row re-stored as read): opened and sealed again under the current key
    const plain = this.#box.holds(password) ? (this.#box.open(password, shardId) ?? password) : password;
    parsed.password = this.#box.seal(plain, shardId);
    return parsed.toString();
  }

  #revealUrl(url: string, shardId: string): string {
    const expanded = url.replace(ENV_REF, (_, name: string) => {
      const value = this.#env[name];
      if (value === undefined || value === '') throw new ShardSecretError(`shard ${shardId}: its URL names \${env:${name}}, which is not set in this gateway's environment`);
      return encodeURIComponent(value);
    });
    const password = passwordOf(expanded);
    if (password === undefined || !this.#box.holds(password)) return expanded;
    const plain = this.#box.open(password, shardId);
    if (plain === undefined) throw new ShardSecretError(`shard ${shardId}: its stored password was sealed with a key this gateway's keyring does not hold (or for another shard)`);
    const parsed = parse(expanded)!;
    parsed.password = encodeURIComponent(plain);
    return parsed.toString();
  }

  #mapUrls<T extends Pick<ShardRow, 'id' | 'primary' | 'replicas' | 'admin'>>(shard: T, map: (url: string) => string): T {
    const replicas = (endpoints: ShardEndpoints): Url[] => endpoints.replicas.map((r) => (typeof r === 'string' ? map(r) : { name: r.name, url: map(r.url) }));
    return {
      ...shard,
      primary: map(shard.primary),
      replicas: replicas(shard),
      ...(shard.admin === undefined ? {} : { admin: { primary: map(shard.admin.primary), replicas: replicas(shard.admin) } }),
    };
  }
}

function parse(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

function passwordOf(url: string): string | undefined {
  const parsed = parse(url);
  return parsed === undefined || parsed.password === '' ? undefined : decodeURIComponent(parsed.password);
}
