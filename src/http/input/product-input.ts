import { z } from 'zod';
import { PRODUCT_SORTABLE } from '../../models/index.js';
import { jsonObject, noProtoKeys, queryBool, queryDate, queryValue, safeString } from './validation.js';
import { listInput } from './list-input.js';

/** A price: a number or decimal string, at most two decimals, 0 … 9,999,999,999.99; normalised to text. */
export const price = z
  .union([z.number(), z.string()], { error: 'must be a number' })
  .transform((v) => (typeof v === 'number' ? String(v) : v.trim()))
  .refine((v) => /^\d{1,10}(\.\d{1,2})?$/.test(v), 'must be a non-negative amount with at most two decimals, below 10^10');

export const stock = z.number({ error: 'must be a whole number' }).int('must be a whole number').min(0, 'must not be negative').max(2_147_483_647, 'is too large');

/** hstore: a flat map of strings */
export const attributes = noProtoKeys.pipe(
  z.record(safeString(1, 256), safeString(0, 4096)).refine((v) => Object.keys(v).length <= 100, 'may hold at most 100 attributes'),
);

export const productFields = {
  name: safeString(1, 200),
  description: safeString(0, 10_000).optional(),
  price,
  stock,
  categoryId: safeString(1, 64).nullable().optional(),
  isActive: z.boolean().optional(),
  attributes: attributes.optional(),
  metadata: jsonObject.optional(),
};

export const productCreate = z.strictObject(productFields);

export const productPatchFields = z.strictObject({
  name: productFields.name.optional(),
  description: productFields.description,
  price: price.optional(),
  stock: stock.optional(),
  categoryId: productFields.categoryId,
  isActive: productFields.isActive,
  attributes: productFields.attributes,
  metadata: productFields.metadata,
});

export const productPatch = productPatchFields.refine((v) => Object.keys(v).length > 0, 'must change at least one field');

export const productList = listInput(PRODUCT_SORTABLE, {
  active: queryBool.optional(),
  categoryId: queryValue.max(64).optional(),
  q: queryValue.min(1, 'must not be empty').max(200).optional(),
  createdFrom: queryDate.optional(),
  createdTo: queryDate.optional(),
});
