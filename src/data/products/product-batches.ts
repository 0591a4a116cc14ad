import { QueryTypes, type Transaction } from 'sequelize';
import type { ShardNode } from '../../cluster/shard-node.js';
import { uuidv7, writeAuditRows, type AuditEntry } from '../../models/index.js';
import { NotFoundError } from '../../errors/errors.js';
import type { TenantSession } from '../tenant-session.js';
import type { ProductDto, ProductInput, ProductPatch } from './product-dto.js';
import type { ProductCache } from './product-cache.js';
import { HSTORE_FROM_JSONB, PRODUCT_ROW_SQL, rowImage, rowToDto, type ProductRow } from './product-rows.js';

// Timestamps are bound from the app (millisecond precision, like every Sequelize write),
// never now(): keyset cursors carry the value as a JS date and must compare equal.

/** Columns a batch may set, API name → column and the SQL that turns a bound value into it. */
const COLUMNS: Record<keyof ProductPatch, { column: string; cast: (param: string) => string }> = {
  // attributes arrive as a JSON object and become hstore
  name: { column: 'name', cast: (p) => `${p}::text` },
  description: { column: 'description', cast: (p) => `${p}::text` },
  price: { column: 'price', cast: (p) => `${p}::numeric` },
  stock: { column: 'stock', cast: (p) => `${p}::integer` },
  categoryId: { column: 'category_id', cast: (p) => `${p}::text` },
  isActive: { column: 'is_active', cast: (p) => `${p}::boolean` },
  attributes: { column: 'attributes', cast: (p) => HSTORE_FROM_JSONB(`${p}::jsonb`) },
  metadata: { column: 'metadata', cast: (p) => `${p}::jsonb` },
};

type Row = ProductRow & { inserted?: boolean };

function changedOnly(before: Record<string, unknown>, after: Record<string, unknown>): Record<string, unknown> {
  const old: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(before)) if (JSON.stringify(v) !== JSON.stringify(after[k])) old[k] = v;
  return old;
}

export interface BatchResult {
  readonly items: ProductDto[];
  readonly created: number;
  readonly updated: number;
}

/**
 * Set-based batch writes on products: one statement per step however many rows, atomic
 * (one transaction), each row audited in that transaction exactly like single-row hooks
 * would, the version bumped on every changed row. Cached copies of the changed products
 * are dropped after commit.
 */
export class ProductBatches {
  constructor(private readonly cache: ProductCache) {}

  async createOrUpsert(session: TenantSession, items: ReadonlyArray<ProductInput & { id?: string | undefined }>, upsert: boolean): Promise<BatchResult> {
    const { tenantId, actor } = session;
    const result = await session.transaction(async (transaction, node) => {
      const rows = items.map((item) => ({
        id: item.id ?? uuidv7(),
        name: item.name,
        description: item.description ?? '',
        price: item.price,
        stock: item.stock,
        category_id: item.categoryId ?? null,
        is_active: item.isActive ?? true,
        attributes: item.attributes ?? {},
        metadata: item.metadata ?? {},
      }));
      const before = upsert ? await this.lock(node, transaction, tenantId, rows.map((r) => r.id), true) : new Map<string, Row>();
      const conflict = upsert
        ? `ON CONFLICT (tenant_id, id) DO UPDATE SET
             name = EXCLUDED.name, description = EXCLUDED.description, price = EXCLUDED.price, stock = EXCLUDED.stock,
             category_id = EXCLUDED.category_id, is_active = EXCLUDED.is_active, attributes = EXCLUDED.attributes,
             metadata = EXCLUDED.metadata, version = products.version + 1, updated_at = EXCLUDED.updated_at, deleted_at = NULL`
        : '';
      const written = await node.sequelize.query<Row>(
        `INSERT INTO products (tenant_id, id, name, description, price, stock, category_id, is_active, attributes, metadata, version, created_at, updated_at)
         SELECT $1, r.id, r.name, r.description, r.price, r.stock, r.category_id, r.is_active, ${HSTORE_FROM_JSONB('r.attributes')}, r.metadata, 0, $3, $3
         FROM jsonb_to_recordset($2::jsonb) AS r(id uuid, name text, description text, price numeric, stock integer,
              category_id text, is_active boolean, attributes jsonb, metadata jsonb)
         ${conflict}
         RETURNING ${PRODUCT_ROW_SQL}, (xmax = 0) AS inserted`,
        { bind: [tenantId, JSON.stringify(rows), new Date()], type: QueryTypes.SELECT, transaction },
      );
      const audit: AuditEntry[] = written.map((r) => {
        const old = before.get(r.id);
        return old === undefined
          ? { tenantId, recordId: r.id, action: 'create', oldValues: null, newValues: rowImage(r) }
          : { tenantId, recordId: r.id, action: 'update', oldValues: changedOnly(rowImage(old), rowImage(r)), newValues: rowImage(r) };
      });
      await writeAuditRows(node.models.AuditLog, 'products', audit, { transaction, actor });
      const created = written.filter((r) => r.inserted).length;
      return { items: written.map(rowToDto), created, updated: written.length - created };
    });
    // only an upsert's updated rows can be cached: new ids were never read
    if (result.updated > 0) await this.cache.invalidate(session, result.items.map((p) => p.id));
    return result;
  }

  async update(session: TenantSession, ids: readonly string[], set: ProductPatch): Promise<{ items: ProductDto[] }> {
    const { tenantId, actor } = session;
    const result = await session.transaction(async (transaction, node) => {
      const before = await this.lock(node, transaction, tenantId, ids, false);
      const bind: unknown[] = [tenantId, ids, new Date()];
      const assignments = Object.entries(set)
        .filter(([, v]) => v !== undefined)
        .map(([field, value]) => {
          const spec = COLUMNS[field as keyof ProductPatch];
          bind.push(typeof value === 'object' && value !== null ? JSON.stringify(value) : value);
          const param = `$${bind.length}`;
          return `${spec.column} = ${spec.cast(param)}`;
        });
      const written = await node.sequelize.query<Row>(
        `UPDATE products SET ${assignments.join(', ')}, version = version + 1, updated_at = $3
         WHERE tenant_id = $1 AND id = ANY($2::uuid[]) AND deleted_at IS NULL
         RETURNING ${PRODUCT_ROW_SQL}`,
        { bind, type: QueryTypes.SELECT, transaction },
      );
      await writeAuditRows(
        node.models.AuditLog,
        'products',
        written.map((r) => ({ tenantId, recordId: r.id, action: 'update', oldValues: changedOnly(rowImage(before.get(r.id)!), rowImage(r)), newValues: rowImage(r) })),
        { transaction, actor },
      );
      return { items: written.map(rowToDto) };
    });
    await this.cache.invalidate(session, ids);
    return result;
  }

  async remove(session: TenantSession, ids: readonly string[]): Promise<{ deleted: number; ids: string[] }> {
    const { tenantId, actor } = session;
    const result = await session.transaction(async (transaction, node) => {
      const before = await this.lock(node, transaction, tenantId, ids, false);
      const written = await node.sequelize.query<Row>(
        `UPDATE products SET deleted_at = $3, version = version + 1, updated_at = $3
         WHERE tenant_id = $1 AND id = ANY($2::uuid[]) AND deleted_at IS NULL
         RETURNING ${PRODUCT_ROW_SQL}`,
        { bind: [tenantId, ids, new Date()], type: QueryTypes.SELECT, transaction },
      );
      await writeAuditRows(
        node.models.AuditLog,
        'products',
        written.map((r) => ({ tenantId, recordId: r.id, action: 'delete', oldValues: rowImage(before.get(r.id)!), newValues: null })),
        { transaction, actor },
      );
      return { deleted: written.length, ids: written.map((r) => r.id) };
    });
    await this.cache.invalidate(session, ids);
    return result;
  }

  /**
   * Locks the rows a batch touches, in id order (so concurrent batches cannot deadlock),
   * and returns their pre-images. For update and delete every id must exist and be live.
   */
  private async lock(node: ShardNode, transaction: Transaction, tenantId: string, ids: readonly string[], includeDeleted: boolean): Promise<Map<string, Row>> {
    const rows = await node.sequelize.query<Row>(
      `SELECT ${PRODUCT_ROW_SQL} FROM products
       WHERE tenant_id = $1 AND id = ANY($2::uuid[]) ${includeDeleted ? '' : 'AND deleted_at IS NULL'}
       ORDER BY id FOR UPDATE`,
      { bind: [tenantId, ids], type: QueryTypes.SELECT, transaction },
    );
    const found = new Map(rows.map((r) => [r.id, r]));
    if (!includeDeleted) {
      const missing = ids.find((id) => !found.has(id));
      if (missing !== undefined) throw new NotFoundError('product', missing);
    }
    return found;
  }
}
