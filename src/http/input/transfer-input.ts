import { z } from 'zod';
import { quantityInput, queryValue, uuidInput } from './validation.js';
import { TENANT_ID_PATTERN } from './record-params.js';

export const TRANSFER_MAX_ITEMS = 50;
export const TRANSFER_MAX_QUANTITY = 1_000_000;
const TX_STATES = ['pending', 'committed', 'compensated', 'aborted'] as const;

export const tenantRef = z.string({ error: 'must be a tenant id' }).regex(TENANT_ID_PATTERN, 'must be a tenant id');

const item = z.strictObject({
  productId: uuidInput,
  quantity: quantityInput(TRANSFER_MAX_QUANTITY),
  intoProductId: uuidInput,
});

/** POST /v1/transfers, sent by the buyer. */
export const transferCreate = z.strictObject({
  supplier: tenantRef,
  items: z
    .array(item, { error: 'must be a list of {productId, quantity, intoProductId}' })
    .min(1, 'must hold at least one item')
    .max(TRANSFER_MAX_ITEMS, `must hold at most ${TRANSFER_MAX_ITEMS} items`),
  protocol: z.enum(['saga', '2pc'], { error: 'must be saga or 2pc' }).default('saga'),
});

export const transferList = z.strictObject({
  role: queryValue.pipe(z.enum(['buyer', 'supplier'], { error: 'must be buyer or supplier' })).optional(),
  state: queryValue.pipe(z.enum(TX_STATES, { error: `must be one of ${TX_STATES.join(', ')}` })).optional(),
  limit: queryValue.regex(/^\d{1,3}$/, 'must be 1 to 100').transform(Number).pipe(z.number().min(1, 'must be 1 to 100').max(100, 'must be 1 to 100')).default(50),
});

export const transactionList = transferList.omit({ role: true });

/** POST and DELETE /admin/partnerships */
export const partnershipInput = z.strictObject({ supplier: tenantRef, buyer: tenantRef }).refine((p) => p.supplier !== p.buyer, {
  path: ['buyer'],
  message: 'must differ from supplier',
});
