import { z } from 'zod';
import { UUID_PATTERN } from '../../models/index.js';
import { productFields, productPatchFields } from './product-input.js';

const uuid = z.string({ error: 'must be a product id' }).regex(UUID_PATTERN, 'must be a product id').transform((v) => v.toLowerCase());

function ids(max: number) {
  return z
    .array(uuid, { error: 'must be an array of product ids' })
    .min(1, 'must not be empty')
    .max(max, `may hold at most ${max} ids`)
    .refine((v) => new Set(v).size === v.length, 'must not repeat an id');
}

/** Items may carry an id only when upserting: the row to insert or overwrite. */
export function batchCreate(max: number) {
  return z
    .strictObject({
      items: z
        .array(z.strictObject({ ...productFields, id: uuid.optional() }), { error: 'must be an array of products' })
        .min(1, 'must not be empty')
        .max(max, `may hold at most ${max} items`),
      upsert: z.boolean().optional(),
    })
    .superRefine((v, ctx) => {
      const seen = new Set<string>();
      v.items.forEach((item, i) => {
        if (item.id === undefined) return;
        if (!v.upsert) ctx.addIssue({ code: 'custom', path: ['items', i, 'id'], message: 'an id may be given only with "upsert": true' });
        else if (seen.has(item.id)) ctx.addIssue({ code: 'custom', path: ['items', i, 'id'], message: 'repeats an id earlier in the batch' });
        seen.add(item.id);
      });
    });
}

export function batchUpdate(max: number) {
  return z.strictObject({
    ids: ids(max),
    set: productPatchFields.refine((v) => Object.keys(v).length > 0, 'must change at least one field'),
  });
}

export function batchDelete(max: number) {
  return z.strictObject({ ids: ids(max) });
}
