import { ForeignKeyConstraintError, UniqueConstraintError } from 'sequelize';
import { ConflictError, NotFoundError } from '../errors/errors.js';
import type { CatalogDatabase } from './catalog-database.js';

export interface Partnership {
  readonly supplier: string;
  readonly buyer: string;
  readonly createdAt: string;
}

/** Which tenant may buy stock from which (`/admin/partnerships`): one row a direction. */
export class PartnershipStore {
  constructor(private readonly db: CatalogDatabase) {}

  /** 404 naming the side when a tenant does not exist, 409 when the partnership already does. */
  async create(supplier: string, buyer: string): Promise<Partnership> {
    try {
      const rows = await this.db.select(
        'INSERT INTO partnerships (supplier_id, buyer_id) VALUES ($1, $2) RETURNING created_at',
        [supplier, buyer],
      );
      return { supplier, buyer, createdAt: new Date(rows[0]!.created_at as Date).toISOString() };
    } catch (err) {
      if (err instanceof UniqueConstraintError) throw new ConflictError(`${supplier} already supplies ${buyer}`, 'buyer');
      if (err instanceof ForeignKeyConstraintError) {
        const missing = (await this.db.select('SELECT id FROM tenants WHERE id = $1', [supplier])).length === 0 ? supplier : buyer;
        throw new NotFoundError('tenant', missing);
      }
      throw err;
    }
  }

  /** false when there was none */
  async delete(supplier: string, buyer: string): Promise<boolean> {
    return (await this.db.exec('DELETE FROM partnerships WHERE supplier_id = $1 AND buyer_id = $2', [supplier, buyer])) > 0;
  }

  /** Every partnership the tenant is in, either side (an erased tenant trades with nobody). */
  async deleteAllOf(tenantId: string): Promise<void> {
    await this.db.exec('DELETE FROM partnerships WHERE supplier_id = $1 OR buyer_id = $1', [tenantId]);
  }

  async exists(supplier: string, buyer: string): Promise<boolean> {
    return (await this.db.select('SELECT 1 FROM partnerships WHERE supplier_id = $1 AND buyer_id = $2', [supplier, buyer])).length > 0;
  }

  async list(): Promise<Partnership[]> {
    const rows = await this.db.select('SELECT supplier_id, buyer_id, created_at FROM partnerships ORDER BY created_at, supplier_id, buyer_id LIMIT 10000');
    return rows.map((r) => ({ supplier: r.supplier_id as string, buyer: r.buyer_id as string, createdAt: new Date(r.created_at as Date).toISOString() }));
  }
}
