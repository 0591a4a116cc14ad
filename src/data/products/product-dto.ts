import type { ProductRecord, ProductSortField } from '../../models/index.js';
import type { ListQuery } from '../list-page.js';

export interface ProductDto {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  /** exact in the database (numeric(12,2)); a JSON number with at most two decimals here */
  readonly price: number;
  readonly stock: number;
  /** stock an open transfer (saga) has taken out of `stock` and not yet confirmed or released */
  readonly reserved: number;
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

export interface ProductListQuery extends ListQuery<ProductSortField> {
  readonly active?: boolean | undefined;
  readonly categoryId?: string | undefined;
  readonly q?: string | undefined;
  readonly createdFrom?: Date | undefined;
  readonly createdTo?: Date | undefined;
}

export function toProductDto(p: ProductRecord): ProductDto {
  return {
    id: p.id,
    name: p.name,
    description: p.description,
    price: Number(p.price),
    stock: p.stock,
    reserved: p.reserved,
    categoryId: p.categoryId ?? null,
    isActive: p.isActive,
    attributes: p.attributes ?? {},
    metadata: p.metadata,
    version: p.version,
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
  };
}
