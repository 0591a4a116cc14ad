import { Op, Sequelize, type WhereOptions } from 'sequelize';
import type { ShardNode } from '../cluster/shard-node.js';
import { audited, uuidv7, PRODUCT_SORTABLE, type ProductRecord, type ProductSortField } from '../models/index.js';
import { NotFoundError, VersionMismatchError } from '../errors/errors.js';
import { read, write, writeStatement } from './transactions.js';
import type { TenantSession } from './tenant-session.js';
import type { ReadThroughCache } from '../cache/read-through-cache.js';
import { cacheKeys } from '../cache/cache-keys.js';
import { afterCursor, decodeCursor, encodeCursor, type ListPage } from './pagination.js';
import { HSTORE_FROM_JSONB, PRODUCT_ROW_SQL, rowToDto, type ProductRow } from './product-rows.js';

export interface ProductDto {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  /** exact in the database (numeric(12,2)); a JSON number with at most two decimals here */
  readonly price: number;
  readonly stock: number;
  readonly categoryId: string | null;
  readonly isActive: boolean;
  readonly attributes: Record<string, string>;
  readonly metadata: Record<string, unknown>;
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface ProductInput {
  readonly name: string;
  readonly description?: string | undefined;
  /** decimal text with at most two places, e.g. '19.99' */
  readonly price: string;
  readonly stock: number;
  readonly categoryId?: string | null | undefined;
  readonly isActive?: boolean | undefined;
  readonly attributes?: Record<string, string> | undefined;
  readonly metadata?: Record<string, unknown> | undefined;
}

export type ProductPatch = Partial<ProductInput>;

export interface ProductListQuery {
  readonly pageSize: number;
  /** page mode when set; keyset mode (cursor) otherwise */
  readonly page?: number | undefined;
  readonly cursor?: string | undefined;
  readonly active?: boolean | undefined;
  readonly categoryId?: string | undefined;
  readonly q?: string | undefined;
  readonly createdFrom?: Date | undefined;
  readonly createdTo?: Date | undefined;
  readonly sort: { readonly field: ProductSortField; readonly direction: 'ASC' | 'DESC' };
}

export function toProductDto(p: ProductRecord): ProductDto {
  return {
    id: p.id,
    name: p.name,
    description: p.description,
    price: Number(p.price),
    stock: p.stock,
    categoryId: p.categoryId ?? null,
    isActive: p.isActive,
    attributes: p.attributes ?? {},
    metadata: p.metadata,
    version: p.version,
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
  };
}

function cursorValue(dto: ProductDto, field: ProductSortField): string | number {
  return dto[field];
}

/**
 * Products of one tenant on one node. Updates, deletes and restores go through model
 * instances, so hooks audit them and bump the version; a create is one statement that
 * writes its own audit row (see CREATE); set-based batch writes live in `product-batches.ts`.
 */
/**
 * A product read and where its data came from. A cache hit reports the node that produced
 * the cached copy (X-Served-By keeps its meaning: which database the data was read from);
 * entries from a replica live no longer than the lag bound, so that stays truthful.
 */
export interface ProductRead {
  readonly product?: ProductDto | undefined;
  readonly servedBy?: string | undefined;
  readonly cache: 'hit' | 'miss' | 'bypass';
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

function servedBy(node: ShardNode): string {
  return node.role === 'primary' ? 'primary' : `replica:${node.name}`;
}

export interface ProductsRepositoryDeps {
  /** absent: no caching at all */
  readonly cache?: ReadThroughCache | undefined;
  readonly ttlMs: number;
  /** cap for entries loaded from a replica: its lag bound */
  readonly replicaFillTtlMs: number;
}

export class ProductsRepository {
  constructor(private readonly deps: ProductsRepositoryDeps) {}

  /**
   * One round trip: the row and its audit row in one statement (see CREATE). It has
   * committed when this returns, so a consistency token read afterwards (by the route) is
   * past its commit record.
   */
  async create(node: ShardNode, tenantId: string, input: ProductInput, actor: string): Promise<ProductDto> {
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
    const rows = await writeStatement(node, () =>
      node.query<ProductRow>(CREATE, [
        tenantId, id, input.name, description, input.price, input.stock, categoryId, isActive,
        JSON.stringify(attributes), JSON.stringify(metadata), now, uuidv7(), actor, JSON.stringify(image),
      ]),
    );
    return rowToDto(rows[0]!);
  }

  /**
   * A product read. Eventual reads go through the cache; strong and token reads skip it
   * (a gateway that has not yet heard an invalidation must not answer them). An entry
   * loaded from a replica may be up to the lag bound old, so it is cached no longer than
   * that bound; entries loaded from the primary get the full TTL.
   */
  async get(session: TenantSession, id: string): Promise<ProductRead> {
    const load = () =>
      session.read(async (node) => {
        const rows = await read(node, () => node.query<ProductRow>(POINT_READ, [session.tenantId, id]));
        const row = rows[0];
        return row ? { product: rowToDto(row), servedBy: servedBy(node) } : undefined;
      });
    if (this.deps.cache === undefined || !session.eventual) return { ...(await load()), cache: 'bypass' };
    const destination = session.peekRead();
    const ttlMs = destination.role === 'replica' ? Math.min(this.deps.ttlMs, this.deps.replicaFillTtlMs) : this.deps.ttlMs;
    const result = await this.deps.cache.getOrLoad(cacheKeys.product(session.tenantId, id), load, { ttlMs });
    return { ...result.value, cache: result.source === 'loaded' ? 'miss' : 'hit' };
  }

  /** Drops cached copies after a committed write; never throws (TTLs bound what a lost one costs). */
  async invalidate(tenantId: string, ids: readonly string[]): Promise<void> {
    await this.deps.cache?.invalidate(ids.map((id) => cacheKeys.product(tenantId, id)));
  }

  async list(node: ShardNode, tenantId: string, q: ProductListQuery): Promise<ListPage<ProductDto>> {
    const attribute = PRODUCT_SORTABLE[q.sort.field];
    const conditions: WhereOptions[] = [{ tenantId }];
    if (q.active !== undefined) conditions.push({ isActive: q.active });
    if (q.categoryId !== undefined) conditions.push({ categoryId: q.categoryId });
    if (q.q !== undefined) {
      // the generated tsvector column, through the tenant-led GIN index
      conditions.push(Sequelize.where(Sequelize.col('search'), Op.match, Sequelize.fn('websearch_to_tsquery', 'english', q.q)));
    }
    const sortKey = `${q.sort.direction === 'DESC' ? '-' : ''}${q.sort.field}`;
    const keyset = q.page === undefined;
    if (keyset && q.cursor) conditions.push(afterCursor(attribute, q.sort.direction, decodeCursor(q.cursor, sortKey)));

    const scoped = node.models.Product.scope([
      { method: ['createdBetween', q.createdFrom, q.createdTo] },
      { method: ['orderBy', q.sort.field, q.sort.direction] },
    ]);
    const where = { [Op.and]: conditions };
    const rows = await read(node, () =>
      scoped.findAll({ where, limit: q.pageSize, offset: keyset ? 0 : ((q.page ?? 1) - 1) * q.pageSize }),
    );
    const items = rows.map(toProductDto);
    const last = items.at(-1);
    const nextCursor =
      last !== undefined && items.length === q.pageSize ? encodeCursor({ sort: sortKey, value: cursorValue(last, q.sort.field), id: last.id }) : null;
    if (keyset) return { items, pageSize: q.pageSize, nextCursor };
    const total = await read(node, () =>
      node.models.Product.scope([{ method: ['createdBetween', q.createdFrom, q.createdTo] }]).count({ where }),
    );
    return { items, page: q.page, pageSize: q.pageSize, total, nextCursor };
  }

  async update(node: ShardNode, tenantId: string, id: string, patch: ProductPatch, expectedVersion: number | undefined, actor: string): Promise<ProductDto> {
    const updated = await write(node, async (transaction) => {
      const product = await node.models.Product.findOne({ where: { tenantId, id }, transaction, lock: transaction.LOCK.UPDATE });
      if (!product) throw new NotFoundError('product', id);
      if (expectedVersion !== undefined && product.version !== expectedVersion) throw new VersionMismatchError(expectedVersion, product.version);
      product.set(patch);
      if (product.changed() !== false) await product.save(audited(transaction, actor));
      return toProductDto(product);
    });
    await this.invalidate(tenantId, [id]);
    return updated;
  }

  async remove(node: ShardNode, tenantId: string, id: string, actor: string): Promise<void> {
    await write(node, async (transaction) => {
      const product = await node.models.Product.findOne({ where: { tenantId, id }, transaction, lock: transaction.LOCK.UPDATE });
      if (!product) throw new NotFoundError('product', id);
      await product.destroy(audited(transaction, actor));
    });
    await this.invalidate(tenantId, [id]);
  }

  async restore(node: ShardNode, tenantId: string, id: string, actor: string): Promise<ProductDto> {
    const restored = await write(node, async (transaction) => {
      const product = await node.models.Product.findOne({ where: { tenantId, id }, paranoid: false, transaction, lock: transaction.LOCK.UPDATE });
      if (!product) throw new NotFoundError('product', id);
      if (product.deletedAt !== null) await product.restore(audited(transaction, actor));
      return toProductDto(product);
    });
    await this.invalidate(tenantId, [id]);
    return restored;
  }
}
