import { UniqueConstraintError, type Transaction } from 'sequelize';
import { ConflictError } from '../errors/errors.js';
import type { CatalogDatabase } from './catalog-database.js';
import { tenantFromRow, type TenantRow, type TenantStatus } from './catalog-rows.js';

/** Tenants in the catalog: who they are and their status (their keys: `ApiKeyStore`). */
export class TenantStore {
  constructor(private readonly db: CatalogDatabase) {}

  /** A tenant and its first API key, together. */
  async create(tenant: { id: string; name: string; keyId: string; apiKeyHash: string }): Promise<TenantRow> {
    try {
      const rows = await this.db.select(
        `WITH t AS (INSERT INTO tenants (id, name) VALUES ($1, $2) RETURNING *),
              k AS (INSERT INTO api_keys (id, tenant_id, key_hash) SELECT $3, id, $4 FROM t)
         SELECT * FROM t`,
        [tenant.id, tenant.name, tenant.keyId, tenant.apiKeyHash],
      );
      return tenantFromRow(rows[0]!);
    } catch (err) {
      if (err instanceof UniqueConstraintError) throw new ConflictError(`Tenant ${tenant.id} already exists`, 'id');
      throw err;
    }
  }

  async get(id: string): Promise<TenantRow | undefined> {
    const rows = await this.db.select('SELECT * FROM tenants WHERE id = $1', [id]);
    return rows[0] ? tenantFromRow(rows[0]) : undefined;
  }

  /** A status change; every gateway drops its cached keys of the tenant (keys version). */
  async setStatus(id: string, status: TenantStatus): Promise<TenantRow | undefined> {
    const rows = await this.db.selectBumpingKeysVersion('UPDATE tenants SET status = $2, updated_at = now() WHERE id = $1 RETURNING *', [id, status]);
    return rows[0] ? tenantFromRow(rows[0]) : undefined;
  }

  /** Every tenant id, in order; inside `transaction` when one is given (a job's plan). */
  async listIds(transaction?: Transaction): Promise<string[]> {
    const rows = await this.db.select('SELECT id FROM tenants ORDER BY id', [], transaction);
    return rows.map((r) => r.id as string);
  }
}
