import type { Logger } from 'pino';
import type { TenantRow, TenantStatus } from '../catalog/catalog-rows.js';
import type { ApiKeyStore, KeyedTenant } from '../catalog/api-key-store.js';
import { TtlCache } from '../cache/ttl-cache.js';
import { hashApiKey, looksLikeApiKey } from './api-keys.js';
import { KeyLookupBudget, type KeyLookupBudgetOptions } from './key-lookup-budget.js';
import { CatalogUnavailableError, TenantSuspendedError, UnauthenticatedError } from '../errors/errors.js';

export interface Tenant {
  readonly id: string;
  readonly name: string;
  readonly status: TenantStatus;
  readonly plan: string;
}

export interface TenantAuthenticatorOptions extends KeyLookupBudgetOptions {
  /** a known key is looked up again (in the background, served meanwhile) after this long */
  readonly cacheTtlMs: number;
  /** an unknown key is refused from memory for this long */
  readonly negativeCacheTtlMs: number;
  /** how long a known key is served from memory without a successful catalog lookup */
  readonly staleIfErrorMs: number;
  /** how often the catalog's keys version is checked (the fallback to the broadcast) */
  readonly keysWatchIntervalMs: number;
  /** how often the keys' last use is written to the catalog */
  readonly usageFlushMs: number;
  readonly maxKnownKeys?: number;
  readonly maxUnknownKeys?: number;
}

interface Known {
  readonly tenant: Tenant;
  readonly keyId: string;
  readonly fetchedAt: number;
}

const toTenant = (row: TenantRow): Tenant => ({ id: row.id, name: row.name, status: row.status, plan: row.plan });

/**
 * Resolves `Authorization: Bearer <api key>` to a tenant.
 *
 * Known keys live in their own cache, served at once and looked up again in the background
 * once older than `cacheTtlMs`; when the catalog is down they keep working for
 * `staleIfErrorMs` (minutes, not hours). Unknown keys live in a second, small cache, so a
 * flood of random keys can never evict a real tenant; the catalog lookups they cause are
 * budgeted per client address and in total (`KeyLookupBudget`). A revoked key or a
 * suspended tenant stops working on every gateway within a second: the admin API
 * broadcasts it, and every gateway watches the catalog's keys version as the fallback.
 */
export class TenantAuthenticator {
  readonly #known: TtlCache<string, Known>;
  readonly #unknown: TtlCache<string, true>;
  readonly #refreshing = new Map<string, Promise<Known | undefined>>();
  readonly #budget: KeyLookupBudget;
  readonly #used = new Set<string>();
  #keysVersion: bigint | undefined;
  #timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly keys: ApiKeyStore,
    private readonly options: TenantAuthenticatorOptions,
    private readonly logger?: Logger,
  ) {
    // a Known is a few hundred bytes; the bound in bytes is a second wall behind the count
    this.#known = new TtlCache(options.maxKnownKeys ?? 100_000, Date.now, {
      maxBytes: 64 * 1024 * 1024,
      maxEntryBytes: 64 * 1024,
      sizeOf: (k, hash) => 2 * (hash.length + k.keyId.length + k.tenant.id.length + k.tenant.name.length + k.tenant.plan.length) + 200,
    });
    this.#unknown = new TtlCache(options.maxUnknownKeys ?? 10_000);
    this.#budget = new KeyLookupBudget(options);
  }

  /** `client` names the caller (its address) for the lookup budget of unknown keys. */
  async authenticate(authorization: string | undefined, client = 'unknown'): Promise<Tenant> {
    const key = parseBearer(authorization);
    if (key === undefined || !looksLikeApiKey(key)) throw new UnauthenticatedError();
    const hash = hashApiKey(key);
    const known = this.#known.get(hash) ?? (await this.#lookup(hash, client));
    if (known === undefined) throw new UnauthenticatedError('Unknown API key');
    if (Date.now() - known.fetchedAt >= this.options.cacheTtlMs) void this.#refresh(hash).catch(() => undefined);
    if (known.tenant.status !== 'active') throw new TenantSuspendedError(known.tenant.id);
    this.#used.add(known.keyId);
    return known.tenant;
  }

  /** A key never seen (or refused) here: the unknown-key cache, then a budgeted catalog lookup. */
  async #lookup(hash: string, client: string): Promise<Known | undefined> {
    if (this.#unknown.get(hash) !== undefined) return undefined;
    const flight = this.#refreshing.get(hash);
    if (flight !== undefined) return flight;
    return this.#budget.run(client, () => this.#refresh(hash), (known) => known !== undefined);
  }

  /** One catalog lookup of a key (shared by concurrent callers), remembered either way. */
  #refresh(hash: string): Promise<Known | undefined> {
    let flight = this.#refreshing.get(hash);
    if (flight === undefined) {
      flight = this.keys
        .findTenant(hash)
        .then((found: KeyedTenant | undefined) => {
          if (found === undefined) {
            this.#known.delete(hash);
            this.#unknown.set(hash, true, this.options.negativeCacheTtlMs);
            return undefined;
          }
          const known = { tenant: toTenant(found.tenant), keyId: found.keyId, fetchedAt: Date.now() };
          this.#unknown.delete(hash);
          // kept past its freshness: served while the catalog cannot be asked
          this.#known.set(hash, known, Math.max(this.options.cacheTtlMs, this.options.staleIfErrorMs));
          return known;
        })
        .catch((err: unknown) => {
          // a key known before stays usable until its stale-if-error time runs out (the cache's TTL)
          if (err instanceof CatalogUnavailableError) {
            const stale = this.#known.get(hash);
            if (stale !== undefined) return stale;
          }
          throw err;
        })
        .finally(() => this.#refreshing.delete(hash));
      this.#refreshing.set(hash, flight);
    }
    return flight;
  }

  /** Drops a tenant's cached keys (a revocation or status change, here or on another gateway). */
  invalidate(tenantId: string): void {
    this.#known.deleteWhere((entry) => entry.tenant.id === tenantId);
  }

  clear(): void {
    this.#known.clear();
    this.#unknown.clear();
  }

  /** Starts watching the catalog's keys version (from its value now) and writing the keys' last use. */
  async start(): Promise<void> {
    await this.#checkKeysVersion();
    this.#timers = [
      setInterval(() => void this.#checkKeysVersion(), this.options.keysWatchIntervalMs),
      setInterval(() => void this.flushUsage(), this.options.usageFlushMs),
    ];
    for (const timer of this.#timers) timer.unref();
  }

  async stop(): Promise<void> {
    for (const timer of this.#timers.splice(0)) clearInterval(timer);
    await this.flushUsage();
  }

  /** Writes which keys were used since the last flush (one statement; losing one is harmless). */
  async flushUsage(): Promise<void> {
    if (this.#used.size === 0) return;
    const ids = [...this.#used];
    this.#used.clear();
    await this.keys.touch(ids, new Date()).catch((err: unknown) => this.logger?.debug({ err: (err as Error).message }, 'recording key use failed'));
  }

  async #checkKeysVersion(): Promise<void> {
    try {
      const version = await this.keys.version();
      // a key stopped working somewhere: which one is not worth a query, the cache refills in one lookup per key
      if (this.#keysVersion !== undefined && version !== this.#keysVersion) this.#known.clear();
      this.#keysVersion = version;
    } catch {
      // catalog down: known keys keep working until their stale-if-error time
    }
  }
}

export function parseBearer(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
