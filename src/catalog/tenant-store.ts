import { UniqueConstraintError, type Transaction } from 'sequelize';
import { ConflictError } from '../errors/errors.js';
import type { CatalogDatabase } from './catalog-database.js';
import { tenantFromRow, type TenantRow, type TenantStatus } from './catalog-rows.js';

/** Tenants in the catalog: who they are, their status and the hash of their API key. */
export class TenantStore {
  constructor(private readonly db: CatalogDatabase) {}

  async create(tenant: { id: string; name: string; apiKeyHash: string }): Promise<TenantRow> {
    try {
      const rows = await this.db.select(
        `INSERT INTO tenants (id, name, api_key_hash) VALUES ($1, $2, $3) RETURNING *`,
        [tenant.id, tenant.name, tenant.apiKeyHash],
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

  async findByKeyHash(apiKeyHash: string): Promise<TenantRow | undefined> {
    const rows = await this.db.select('SELECT * FROM tenants WHERE api_key_hash = $1', [apiKeyHash]);
    return rows[0] ? tenantFromRow(rows[0]) : undefined;
  }

  async setStatus(id: string, status: TenantStatus): Promise<TenantRow | undefined> {
    const rows = await this.db.select(
      'UPDATE tenants SET status = $2, updated_at = now() WHERE id = $1 RETURNING *',
      [id, status],
    );
    return rows[0] ? tenantFromRow(rows[0]) : undefined;
  }

  /** Every tenant id, in order; inside `transaction` when one is given (a job's plan). */
  async listIds(transaction?: Transaction): Promise<string[]> {
    const rows = await this.db.select('SELECT id FROM tenants ORDER BY id', [], transaction);
    return rows.map((r) => r.id as string);
  }
}
