import { ValidationError } from '../../errors/errors.js';

/**
 * Connection parameters a URL from the admin API may carry. Everything else is refused:
 * `sslkey`/`sslcert`/`sslrootcert`/`sslcrl` and `passfile` make the driver read files on
 * the gateway, `host` (a socket path) and `options` reach servers or settings the URL does
 * not show.
 */
const ALLOWED_PARAMS = new Set(['sslmode', 'application_name']);
const SSL_MODES = new Set(['disable', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify']);

/** `*` matches any run of characters within one label of a host name (never a dot); everything else literally, case-insensitive. */
function hostPattern(pattern: string): RegExp {
  const escaped = pattern
    .toLowerCase()
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('[^./@:]*');
  return new RegExp(`^${escaped}$`);
}

/**
 * What `POST /admin/shards` may connect to (`security.shardHosts`): a shard URL names a
 * host the operator allowed, carries only the parameters above, and is used exactly as
 * given — the gateway lends it no password from its environment (see src/main.ts).
 * Without this the endpoint is a port scanner and a way to send the fleet's password to
 * any server.
 */
export class ShardUrlPolicy {
  readonly #patterns: readonly RegExp[];

  constructor(readonly hostPatterns: readonly string[]) {
    this.#patterns = hostPatterns.map(hostPattern);
  }

  check(url: string, field: string): void {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ValidationError(field, `${field}: must be a postgres:// URL`);
    }
    const host = parsed.hostname.replace(/^\[|\]$/g, '').toLowerCase();
    if (host === '') throw new ValidationError(field, `${field}: must name a host (a socket path is not accepted)`);
    if (!this.#patterns.some((p) => p.test(host))) {
      throw new ValidationError(field, `${field}: host ${host} is not among the allowed shard hosts (security.shardHosts)`);
    }
    for (const [name, value] of parsed.searchParams) {
      if (!ALLOWED_PARAMS.has(name)) {
        throw new ValidationError(field, `${field}: parameter ${name} is not accepted (only ${[...ALLOWED_PARAMS].join(', ')})`);
      }
      if (name === 'sslmode' && !SSL_MODES.has(value)) throw new ValidationError(field, `${field}: sslmode must be one of ${[...SSL_MODES].join(', ')}`);
    }
  }
}
