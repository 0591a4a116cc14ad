import { checkServerIdentity, type ConnectionOptions } from 'node:tls';
import { readPemCertificates, TransportConfigError } from './pem.js';
import { serverOffersTls } from './tls-probe.js';

/** libpq's sslmode values, with libpq's meaning. */
export const PG_TLS_MODES = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type PgTlsMode = (typeof PG_TLS_MODES)[number];

/** node-postgres's `ssl` option: false (plain text) or the options of tls.connect. */
export type PgSsl = false | ConnectionOptions;

export interface PgTlsSettings {
  readonly mode: PgTlsMode;
  /** PEM text of the CA(s) that sign the servers' certificates; absent: Node's public roots */
  readonly ca?: string | undefined;
  /** the name every server's certificate must carry (verify-full), instead of the URL's host */
  readonly servername?: string | undefined;
  /** ms the `prefer` probe may take */
  readonly probeTimeoutMs?: number;
}

/**
 * URL parameters that choose TLS or read files in libpq or node-postgres. They are taken out
 * of every URL: TLS is set by `db.tls` alone, so a URL can neither weaken it (`sslmode=disable`)
 * nor make the driver read a file (`sslrootcert=/etc/…`).
 */
function isTlsParam(name: string): boolean {
  const n = name.toLowerCase();
  return n.startsWith('ssl') || n === 'requiressl' || n === 'uselibpqcompat';
}

/** The URL without its TLS parameters, and the names of those it had. */
export function stripTlsParams(url: string): { readonly url: string; readonly dropped: readonly string[] } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { url, dropped: [] };
  }
  const dropped = [...new Set([...parsed.searchParams.keys()].filter(isTlsParam))];
  if (dropped.length === 0) return { url, dropped };
  for (const name of dropped) parsed.searchParams.delete(name);
  return { url: parsed.toString(), dropped };
}

/** what the `prefer` probe found, per host:port, for this long */
const PROBE_TTL_MS = 60_000;

/** Sequelize's connection config as `beforeConnect` sees it: the fields we read and write. */
interface SequelizeConnectConfig {
  host?: string;
  port?: number | string;
  dialectOptions?: Record<string, unknown>;
}

/**
 * TLS for every PostgreSQL connection the gateway makes (shard nodes, health probes, the
 * catalog, migrations, the mover's own clients): one policy from `db.tls`, the CA read once.
 */
export class PgTls {
  readonly #settings: Readonly<PgTlsSettings>;
  readonly #probed = new Map<string, { offers: boolean; until: number }>();

  constructor(settings: PgTlsSettings) {
    if (settings.mode === 'verify-ca' && settings.ca === undefined) {
      // Node's public roots would accept any server a public CA ever signed: that is no check of the CA
      throw new TransportConfigError('db.tls.ca: verify-ca needs the CA that signs the servers (a PEM file)');
    }
    this.#settings = Object.freeze({ ...settings });
  }

  /** From the config's `db.tls`: the CA file is read and checked here, once. */
  static fromConfig(tls: { readonly mode: PgTlsMode; readonly ca?: string | undefined; readonly servername?: string | undefined }, probeTimeoutMs = 2000): PgTls {
    const ca = tls.ca === undefined ? undefined : readPemCertificates(tls.ca, 'db.tls.ca');
    return new PgTls({ mode: tls.mode, ca, servername: tls.servername, probeTimeoutMs });
  }

  get mode(): PgTlsMode {
    return this.#settings.mode;
  }

  /** The `ssl` option for a connection to host:port. */
  async ssl(host: string, port: number): Promise<PgSsl> {
    const { mode } = this.#settings;
    if (mode === 'disable') return false;
    if (mode === 'prefer') {
      // a socket path: libpq never uses TLS over one
      if (host.startsWith('/')) return false;
      return (await this.#offers(host, port)) ? { rejectUnauthorized: false } : false;
    }
    return this.options(mode);
  }

  /** tls.connect options for a mode that always encrypts. */
  options(mode: Exclude<PgTlsMode, 'disable' | 'prefer'>): ConnectionOptions {
    const { ca, servername } = this.#settings;
    // libpq: `require` with a root certificate verifies the CA as verify-ca does
    if (mode === 'require' && ca === undefined) return { rejectUnauthorized: false };
    const base: ConnectionOptions = { rejectUnauthorized: true, ...(ca === undefined ? {} : { ca }) };
    if (mode !== 'verify-full') return { ...base, checkServerIdentity: () => undefined };
    // node-postgres sets `servername` to the URL's host itself: check the configured name here
    return servername === undefined ? base : { ...base, checkServerIdentity: (_host, cert) => checkServerIdentity(servername, cert) };
  }

  /** Options for a `pg.Client`: the URL without TLS parameters, and `ssl` from this policy. */
  async clientOptions(url: string): Promise<{ connectionString: string; ssl: PgSsl }> {
    const stripped = stripTlsParams(url).url;
    const { host, port } = endpointOf(stripped);
    return { connectionString: stripped, ssl: await this.ssl(host, port) };
  }

  /**
   * For a Sequelize instance: the URL to give it and a `beforeConnect` hook that sets `ssl`
   * on each new pooled connection (async, so `prefer` can ask the server first).
   */
  sequelize(url: string): { url: string; hooks: { beforeConnect: (config: object) => Promise<void> } } {
    return {
      url: stripTlsParams(url).url,
      hooks: {
        beforeConnect: async (config: object) => {
          const c = config as SequelizeConnectConfig;
          const ssl = await this.ssl(c.host ?? 'localhost', Number(c.port ?? 5432));
          c.dialectOptions = { ...c.dialectOptions, ssl };
        },
      },
    };
  }

  async #offers(host: string, port: number): Promise<boolean> {
    const key = `${host}:${port}`;
    const known = this.#probed.get(key);
    if (known && known.until > Date.now()) return known.offers;
    let offers: boolean;
    try {
      offers = await serverOffersTls(host, port, this.#settings.probeTimeoutMs ?? 2000);
    } catch {
      // the server is not answering: the connection itself will fail and say so (nothing cached)
      return false;
    }
    if (this.#probed.size > 1000) this.#probed.clear();
    this.#probed.set(key, { offers, until: Date.now() + PROBE_TTL_MS });
    return offers;
  }
}

function endpointOf(url: string): { host: string; port: number } {
  try {
    const parsed = new URL(url);
    const host = decodeURIComponent(parsed.hostname).replace(/^\[|\]$/g, '') || parsed.searchParams.get('host') || 'localhost';
    return { host, port: Number(parsed.port || 5432) };
  } catch {
    return { host: 'localhost', port: 5432 };
  }
}
