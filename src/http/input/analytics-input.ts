import { z } from 'zod';
import { queryInt, queryValue } from './validation.js';

/** A ranked list's length: 1 … 100, 10 unless asked. */
const limit = queryInt(1, 100).default(10);

export const topCustomersQuery = z.strictObject({
  limit,
  /** only customers with at least this many confirmed orders */
  minOrders: queryInt(1, 1_000_000).default(1),
});

export const revenueByMonthQuery = z.strictObject({
  // the current UTC year when absent, evaluated per request
  year: queryInt(1970, 9999).default(() => new Date().getUTCFullYear()),
});

export const productRankingQuery = z.strictObject({
  limit,
  categoryId: queryValue.min(1, 'must not be empty').max(64, 'must be at most 64 characters').optional(),
});
