import { z } from 'zod';
import { addressInput, countryCode } from '../../models/index.js';
import { ORDER_SORTABLE } from '../../models/order.js';
import { ValidationError } from '../../errors/errors.js';
import { IDEMPOTENCY_FIELD } from '../../data/orders/idempotency-keys.js';
import { quantityInput, queryValue, uuidInput } from './validation.js';
import { listInput } from './list-input.js';

export const ORDER_MAX_ITEMS = 100;
export const ORDER_MAX_QUANTITY = 10_000;

const orderLine = z.strictObject({
  productId: uuidInput,
  quantity: quantityInput(ORDER_MAX_QUANTITY),
});

/**
 * One line per product: a repeated productId is refused (400 naming the repeat) rather than
 * summed, so order lines map one-to-one onto request lines and a 409 can name its line.
 */
export const orderCreate = z.strictObject({
  customerId: uuidInput,
  items: z
    .array(orderLine, { error: 'must be a list of {productId, quantity}' })
    .min(1, 'must hold at least one item')
    .max(ORDER_MAX_ITEMS, `must hold at most ${ORDER_MAX_ITEMS} items`)
    .superRefine((items, ctx) => {
      const seen = new Map<string, number>();
      items.forEach((item, i) => {
        const first = seen.get(item.productId);
        if (first !== undefined) {
          ctx.addIssue({ code: 'custom', path: [i, 'productId'], message: `repeats items[${first}].productId; put the whole quantity on one line` });
        }
        seen.set(item.productId, first ?? i);
      });
    }),
  /** absent: the customer's address */
  shippingAddress: addressInput.optional(),
  billingAddress: addressInput.nullable().optional(),
});

export const orderList = listInput(ORDER_SORTABLE, {
  status: queryValue.pipe(z.enum(['pending', 'confirmed', 'cancelled'], { error: 'must be pending, confirmed or cancelled' })).optional(),
  customerId: queryValue.pipe(uuidInput).optional(),
  shippingCountry: queryValue.pipe(countryCode).optional(),
});

/** Idempotency-Key: 1..255 printable ASCII characters; absent means no idempotency. */
export function parseIdempotencyKey(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (!/^[\x20-\x7e]{1,255}$/.test(header)) {
    throw new ValidationError(IDEMPOTENCY_FIELD, `${IDEMPOTENCY_FIELD} must be 1 to 255 printable ASCII characters`);
  }
  return header;
}
