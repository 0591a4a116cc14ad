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

  /**
   * An operator's status change (active, suspended); every gateway drops its cached keys of
   * the tenant (keys version). undefined when there is no such tenant, or it is being (or was) erased.
   */
  async setStatus(id: string, status: 'active' | 'suspended'): Promise<TenantRow | undefined> {
    const rows = await this.db.selectBumpingKeysVersion(
      `UPDATE tenants SET status = $2, updated_at = now() WHERE id = $1 AND status IN ('active', 'suspended') RETURNING *`,
      [id, status],
    );
    return rows[0] ? tenantFromRow(rows[0]) : undefined;
  }

  /** An erase's marks: `erasing` before its first row goes, `erased` after the last; false when there is no such tenant. */
  async markErasure(id: string, status: Extract<TenantStatus, 'erasing' | 'erased'>): Promise<boolean> {
    // an erased tenant is never marked erasing again (a replayed step)
    const rows = await this.db.selectBumpingKeysVersion(
      `UPDATE tenants SET status = $2, updated_at = now() WHERE id = $1 AND NOT (status = 'erased' AND $2 = 'erasing') RETURNING id`,
      [id, status],
    );
    return rows.length > 0 || (await this.get(id)) !== undefined;
  }

  /** Every tenant id, in order; inside `transaction` when one is given (a job's plan). */
  async listIds(transaction?: Transaction): Promise<string[]> {
    const rows = await this.db.select('SELECT id FROM tenants ORDER BY id', [], transaction);
    return rows.map((r) => r.id as string);
  }
}
