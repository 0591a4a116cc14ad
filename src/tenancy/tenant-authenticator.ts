import type { TenantRow } from '../catalog/catalog-rows.js';
import type { TenantStore } from '../catalog/tenant-store.js';
import { TtlCache } from '../cache/ttl-cache.js';
import { hashApiKey, hashesEqual, looksLikeApiKey } from './api-keys.js';
import { CatalogUnavailableError, TenantSuspendedError, UnauthenticatedError } from '../errors/errors.js';

export interface Tenant {
  readonly id: string;
  readonly name: string;
  readonly status: 'active' | 'suspended';
  readonly plan: string;
}

export interface TenantAuthenticatorOptions {
  readonly cacheTtlMs: number;
  /** unknown keys are remembered briefly so a flood of bad keys does not hit the catalog */
  readonly negativeCacheTtlMs: number;
  readonly maxEntries?: number;
  /** how long a known tenant may be served from memory while the catalog is down */
  readonly staleIfErrorMs?: number;
}

interface Entry {
  readonly row: TenantRow | null;
  readonly fetchedAt: number;
}

/**
 * Resolves `Authorization: Bearer <api key>` to a tenant, with a short-lived cache. Known
 * tenants stay in memory past their freshness: when the catalog is down they are served
 * from there (stale-if-error), so an outage of the control plane does not take tenants down.
 */
export class TenantAuthenticator {
  readonly #cache: TtlCache<string, Entry>;

  constructor(
    private readonly tenants: TenantStore,
    private readonly options: TenantAuthenticatorOptions,
  ) {
    this.#cache = new TtlCache(options.maxEntries ?? 100_000);
  }

  async authenticate(authorization: string | undefined): Promise<Tenant> {
    const key = parseBearer(authorization);
    if (key === undefined || !looksLikeApiKey(key)) throw new UnauthenticatedError();
    const hash = hashApiKey(key);
    const row = await this.lookup(hash);
    if (row === null || !hashesEqual(row.apiKeyHash, hash)) throw new UnauthenticatedError('Unknown API key');
    if (row.status !== 'active') throw new TenantSuspendedError(row.id);
    return { id: row.id, name: row.name, status: row.status, plan: row.plan };
  }

  private async lookup(hash: string): Promise<TenantRow | null> {
    const cached = this.#cache.get(hash);
    const now = Date.now();
    if (cached !== undefined) {
      const ttl = cached.row === null ? this.options.negativeCacheTtlMs : this.options.cacheTtlMs;
      if (now - cached.fetchedAt < ttl) return cached.row;
    }
    try {
      const row = (await this.tenants.findByKeyHash(hash)) ?? null;
      const keepMs = row === null ? this.options.negativeCacheTtlMs : Math.max(this.options.cacheTtlMs, this.options.staleIfErrorMs ?? 3_600_000);
      this.#cache.set(hash, { row, fetchedAt: now }, keepMs);
      return row;
    } catch (err) {
      if (err instanceof CatalogUnavailableError && cached?.row) {
        // serve it as fresh for another TTL, so a dead catalog is not asked on every request
        this.#cache.set(hash, { row: cached.row, fetchedAt: now }, this.options.staleIfErrorMs ?? 3_600_000);
        return cached.row;
      }
      throw err;
    }
  }

  /** Drops a tenant's cached entry (after a status change on this gateway). */
  invalidate(tenantId: string): void {
    this.#cache.deleteWhere((entry) => entry.row !== null && entry.row.id === tenantId);
  }

  clear(): void {
    this.#cache.clear();
  }
}

export function parseBearer(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
