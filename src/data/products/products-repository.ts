import { Op, Sequelize, type WhereOptions } from 'sequelize';
import { uuidv7, PRODUCT_SORTABLE, type ProductRecord } from '../../models/index.js';
import { servedByName, type TenantSession } from '../tenant-session.js';
import { VersionedRecords, type VersionedResource } from '../versioned-records.js';
import { ListPager, type ListPage } from '../list-page.js';
import { HSTORE_FROM_JSONB, PRODUCT_ROW_SQL, rowToDto, type ProductRow } from './product-rows.js';
import { toProductDto, type ProductDto, type ProductInput, type ProductListQuery, type ProductPatch } from './product-dto.js';
import type { CacheOutcome, LoadedProduct, ProductCache } from './product-cache.js';

/** A product read and how the cache answered it (X-Cache). */
export interface ProductRead {
  readonly product?: ProductDto | undefined;
  readonly cache: CacheOutcome;
}

/**
 * The hottest statement of the API, raw: `Product.findOne` built a model instance (option
 * cloning, getters, dataValues) per read only to copy it into a DTO. The conditions are the
 * model's: the tenant's own row, and a soft-deleted one is no row (paranoid).
 */
const POINT_READ = `SELECT ${PRODUCT_ROW_SQL} FROM products WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL`;

/**
 * A create as one autocommitted statement: the product and its audit row commit together
 * (a statement is atomic), the fence trigger still guards the insert, and there is no
 * BEGIN / SET TRANSACTION / COMMIT round trip nor a model instance for either row.
 * Timestamps are bound from the app, like every Sequelize write (keyset cursors compare them).
 */
const CREATE = `WITH p AS (
    INSERT INTO products (tenant_id, id, name, description, price, stock, category_id, is_active, attributes, metadata, version, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5::numeric, $6, $7, $8, ${HSTORE_FROM_JSONB('$9::jsonb')}, $10::jsonb, 0, $11, $11)
    RETURNING *
  ), audit AS (
    INSERT INTO audit_log (tenant_id, id, table_name, record_id, action, actor, old_values, new_values, created_at)
    SELECT p.tenant_id, $12, 'products', p.id::text, 'create', $13, NULL, $14::jsonb || jsonb_build_object('price', p.price::text), $11
    FROM p
  )
  SELECT ${PRODUCT_ROW_SQL} FROM p`;

/**
 * A tenant's products. Updates, deletes and restores go through model instances
 * (`VersionedRecords`), so hooks audit them and bump the version; a create is one
 * statement that writes its own audit row (see CREATE); set-based batch writes live in
 * `product-batches.ts`. Every committed change drops the product's cached copies.
 */
export class ProductsRepository extends VersionedRecords<ProductRecord, ProductDto> implements VersionedResource<ProductDto, ProductInput, ProductPatch> {
  readonly #cache: ProductCache;

  constructor(cache: ProductCache) {
    super({ what: 'product', model: (node) => node.models.Product, toDto: toProductDto, afterCommit: (session, id) => cache.invalidate(session, [id]) });
    this.#cache = cache;
  }

  /** One round trip: the row and its audit row in one statement (see CREATE). */
  async create(session: TenantSession, input: ProductInput): Promise<ProductDto> {
    const { tenantId, actor } = session;
    const id = uuidv7();
    const now = new Date();
    const at = now.toISOString();
    const attributes = input.attributes ?? {};
    const metadata = input.metadata ?? {};
    const categoryId = input.categoryId ?? null;
    const isActive = input.isActive ?? true;
    const description = input.description ?? '';
    // the audit image has the fields the model hooks record for a create (price is taken from the stored row)
    const image = {
      tenantId, id, name: input.name, description, stock: input.stock, categoryId, isActive, attributes, metadata,
      version: 0, createdAt: at, updatedAt: at, deletedAt: null,
    };
    const rows = await session.write((node) =>
      node.query<ProductRow>(CREATE, [
        tenantId, id, input.name, description, input.price, input.stock, categoryId, isActive,
        JSON.stringify(attributes), JSON.stringify(metadata), now, uuidv7(), actor, JSON.stringify(image),
      ]),
    );
    return rowToDto(rows[0]!);
  }

  /** A product read, through the cache when the session's consistency allows it. */
  async read(session: TenantSession, id: string): Promise<ProductRead> {
    const load = () =>
      session.read(async (node): Promise<LoadedProduct | undefined> => {
        const row = (await node.query<ProductRow>(POINT_READ, [session.tenantId, id]))[0];
        return row ? { product: rowToDto(row), servedBy: servedByName(node.node) } : undefined;
      });
    return this.#cache.read(session, id, load);
  }

  async list(session: TenantSession, q: ProductListQuery): Promise<ListPage<ProductDto>> {
    const pager = new ListPager(q, PRODUCT_SORTABLE[q.sort.field]);
    const conditions: WhereOptions[] = [{ tenantId: session.tenantId }];
    if (q.active !== undefined) conditions.push({ isActive: q.active });
    if (q.categoryId !== undefined) conditions.push({ categoryId: q.categoryId });
    if (q.q !== undefined) {
      // the generated tsvector column, through the tenant-led GIN index
      conditions.push(Sequelize.where(Sequelize.col('search'), Op.match, Sequelize.fn('websearch_to_tsquery', 'english', q.q)));
    }
    const created = { method: ['createdBetween', q.createdFrom, q.createdTo] } as const;
    return session.readModels(async (transaction, node) => {
      const rows = await node.models.Product.scope([created, { method: ['orderBy', q.sort.field, q.sort.direction] }]).findAll({
        where: pager.where(conditions),
        limit: pager.limit,
        offset: pager.offset,
        transaction,
      });
      const total = pager.wantsTotal ? await node.models.Product.scope([created]).count({ where: { [Op.and]: conditions }, transaction }) : undefined;
      return pager.page(rows.map(toProductDto), (p) => p[q.sort.field], total);
    });
  }

}
