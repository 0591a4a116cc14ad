import type { ConnectionOptions } from 'node:tls';
import { readPemCertificates } from './pem.js';

export interface RedisTlsSettings {
  /** PEM text of the CA that signs the Redis servers' certificates; absent: Node's public roots */
  readonly ca?: string | undefined;
  /** the name the servers' certificates must carry, instead of the URL's host */
  readonly servername?: string | undefined;
}

/**
 * TLS for the Redis clients (cache, invalidations, rate limits): a `rediss://` URL
 * connects over TLS, always verified, with the configured CA and name; `redis://` stays
 * plain text. One policy for every Redis URL of the config, the CA read once.
 */
export class RedisTls {
  readonly #settings: Readonly<RedisTlsSettings>;

  constructor(settings: RedisTlsSettings = {}) {
    this.#settings = Object.freeze({ ...settings });
  }

  /** From the config's `redisTls`: the CA file is read and checked here, once. */
  static fromConfig(config: { readonly ca?: string | undefined; readonly servername?: string | undefined } | undefined): RedisTls {
    return new RedisTls({ ca: config?.ca === undefined ? undefined : readPemCertificates(config.ca, 'redisTls.ca'), servername: config?.servername });
  }

  /** ioredis's `tls` option for this URL: undefined for plain `redis://`. */
  options(url: string): ConnectionOptions | undefined {
    if (!/^rediss:\/\//i.test(url)) return undefined;
    const { ca, servername } = this.#settings;
    return { rejectUnauthorized: true, ...(ca === undefined ? {} : { ca }), ...(servername === undefined ? {} : { servername }) };
  }
}
