import type { CatalogDatabase } from './catalog-database.js';
import { apiKeyFromRow, tenantFromRow, type ApiKeyRow, type TenantRow } from './catalog-rows.js';

/** A tenant found by one of its live keys, and which key it was. */
export interface KeyedTenant {
  readonly tenant: TenantRow;
  readonly keyId: string;
}

/**
 * Tenants' API keys (SHA-256 hashes): several per tenant, each revocable. A revocation
 * bumps the keys version in the same statement, which every gateway watches.
 */
export class ApiKeyStore {
  constructor(private readonly db: CatalogDatabase) {}

  async create(tenantId: string, keyId: string, keyHash: string): Promise<ApiKeyRow> {
    const rows = await this.db.select('INSERT INTO api_keys (id, tenant_id, key_hash) VALUES ($1, $2, $3) RETURNING *', [keyId, tenantId, keyHash]);
    return apiKeyFromRow(rows[0]!);
  }

  async list(tenantId: string): Promise<ApiKeyRow[]> {
    const rows = await this.db.select('SELECT * FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id', [tenantId]);
    return rows.map(apiKeyFromRow);
  }

  /** Revokes a live key; undefined when the tenant has no such key (or it was revoked before). */
  async revoke(tenantId: string, keyId: string): Promise<ApiKeyRow | undefined> {
    const rows = await this.db.selectBumpingKeysVersion(
      'UPDATE api_keys SET revoked_at = now() WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL RETURNING *',
      [tenantId, keyId],
    );
    return rows[0] ? apiKeyFromRow(rows[0]) : undefined;
  }

  /** Every live key of the tenant revoked at once (an erase's first step); the keys version moves. */
  async revokeAll(tenantId: string): Promise<number> {
    return (await this.db.selectBumpingKeysVersion('UPDATE api_keys SET revoked_at = now() WHERE tenant_id = $1 AND revoked_at IS NULL RETURNING id', [tenantId])).length;
  }

  /** The tenant's key rows gone (an erase's last step: revoked long before). */
  async deleteAll(tenantId: string): Promise<void> {
    await this.db.exec('DELETE FROM api_keys WHERE tenant_id = $1', [tenantId]);
  }

  async findTenant(keyHash: string): Promise<KeyedTenant | undefined> {
    const rows = await this.db.select(
      `SELECT t.*, k.id AS key_id FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
       WHERE k.key_hash = $1 AND k.revoked_at IS NULL`,
      [keyHash],
    );
    const row = rows[0];
    return row ? { tenant: tenantFromRow(row), keyId: row.key_id as string } : undefined;
  }

  /** Records that these keys were used (batched by the caller: one statement for many uses). */
  async touch(keyIds: readonly string[], at: Date): Promise<void> {
    if (keyIds.length === 0) return;
    await this.db.exec('UPDATE api_keys SET last_used_at = GREATEST(last_used_at, $2) WHERE id = ANY($1)', [keyIds, at]);
  }

  /** Moves whenever a key stops working anywhere. */
  async version(): Promise<bigint> {
    return this.db.keysVersion();
  }
}
