import type { ProductDto } from './product-dto.js';

/**
 * How each column a product DTO needs is selected by hand-written SQL (point read, create,
 * batches): numeric and uuid as text so nothing is lost to floats, hstore as jsonb so no
 * hstore parser runs in the gateway. The keys are the model's columns minus tenant_id and
 * deleted_at (a unit test holds them in step with `models/product.ts`).
 */
const SELECTED = {
  id: 'id::text',
  name: 'name',
  description: 'description',
  price: 'price::text',
  stock: 'stock',
  reserved: 'reserved',
  category_id: 'category_id',
  is_active: 'is_active',
  attributes: 'hstore_to_jsonb(attributes)',
  metadata: 'metadata',
  version: 'version',
  created_at: 'created_at',
  updated_at: 'updated_at',
} as const;

/** jsonb object of strings → hstore, inline (no helper function needed on the shard) */
export const HSTORE_FROM_JSONB = (expr: string): string =>
  `COALESCE((SELECT hstore(array_agg(k), array_agg(v)) FROM jsonb_each_text(${expr}) AS kv(k, v)), ''::hstore)`;

export type ProductColumn = keyof typeof SELECTED;

export const PRODUCT_ROW_COLUMNS = Object.keys(SELECTED) as ProductColumn[];

/** The select list for a product row (also usable after RETURNING or over a CTE of products). */
export const PRODUCT_ROW_SQL = PRODUCT_ROW_COLUMNS.map((c) => (SELECTED[c] === c ? c : `${SELECTED[c]} AS ${c}`)).join(', ');

export interface ProductRow {
  id: string;
  name: string;
  description: string;
  price: string;
  stock: number;
  reserved: number;
  category_id: string | null;
  is_active: boolean;
  attributes: Record<string, string>;
  metadata: Record<string, unknown>;
  version: number;
  created_at: Date | string;
  updated_at: Date | string;
}

export function rowToDto(r: ProductRow): ProductDto {
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    price: Number(r.price),
    stock: r.stock,
    reserved: r.reserved,
    categoryId: r.category_id,
    isActive: r.is_active,
    attributes: r.attributes,
    metadata: r.metadata,
    version: r.version,
    createdAt: new Date(r.created_at).toISOString(),
    updatedAt: new Date(r.updated_at).toISOString(),
  };
}

/** The audit image of a row as set-based writes record it: the API's field names, price as exact text. */
export function rowImage(r: ProductRow): Record<string, unknown> {
  return { ...rowToDto(r), price: r.price };
}
