import type { CatalogStore, TenantRow } from '../catalog/catalog-store.js';
import { TtlCache } from '../cache/ttl-cache.js';
import { hashApiKey, hashesEqual, looksLikeApiKey } from './api-keys.js';
import { TenantSuspendedError, UnauthenticatedError } from '../errors/errors.js';

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
}

/** Resolves `Authorization: Bearer <api key>` to a tenant, with a short-lived cache. */
export class TenantAuthenticator {
  readonly #cache: TtlCache<string, TenantRow | null>;

  constructor(
    private readonly catalog: CatalogStore,
    private readonly options: TenantAuthenticatorOptions,
  ) {
    this.#cache = new TtlCache(options.maxEntries ?? 100_000);
  }

  async authenticate(authorization: string | undefined): Promise<Tenant> {
    const key = parseBearer(authorization);
    if (key === undefined || !looksLikeApiKey(key)) throw new UnauthenticatedError();
    const hash = hashApiKey(key);
    let row = this.#cache.get(hash);
    if (row === undefined) {
      row = (await this.catalog.findTenantByKeyHash(hash)) ?? null;
      this.#cache.set(hash, row, row === null ? this.options.negativeCacheTtlMs : this.options.cacheTtlMs);
    }
    if (row === null || !hashesEqual(row.apiKeyHash, hash)) throw new UnauthenticatedError('Unknown API key');
    if (row.status !== 'active') throw new TenantSuspendedError(row.id);
    return { id: row.id, name: row.name, status: row.status, plan: row.plan };
  }

  /** Drops a tenant's cached entry (after a status change on this gateway). */
  invalidate(tenantId: string): void {
    this.#cache.deleteWhere((row) => row !== null && row.id === tenantId);
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
