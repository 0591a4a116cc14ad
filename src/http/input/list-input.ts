import { z } from 'zod';
import { queryBool, queryInt, queryValue } from './validation.js';

/** Rows a page-numbered list may reach (page × pageSize); beyond it, only `cursor` goes on. */
export const MAX_PAGED_ROWS = 10_000;

/**
 * The query of a list endpoint: its filters plus paging — `page` and `pageSize`, or
 * `cursor` (the previous page's `nextCursor`), `sort` from the resource's sortable fields,
 * and `total` (default: on for page numbers, off for a cursor). A page whose OFFSET would
 * pass MAX_PAGED_ROWS is a 400 naming `page` and pointing to `cursor`: a deep OFFSET costs
 * the database every row before it, a cursor costs one index probe.
 */
export function listInput<Filters extends z.ZodRawShape>(sortable: Readonly<Record<string, string>>, filters: Filters) {
  const sortValues = Object.keys(sortable).flatMap((f) => [f, `-${f}`]);
  return z
    .strictObject({
      // any page number parses; one past MAX_PAGED_ROWS is refused below, pointing to cursor
      page: queryInt(1, Number.MAX_SAFE_INTEGER).optional(),
      pageSize: queryInt(1, 100).default(20),
      cursor: queryValue.max(512).optional(),
      total: queryBool.optional(),
      sort: queryValue.refine((v) => sortValues.includes(v), `must be one of ${sortValues.join(', ')}`).default('createdAt'),
      ...filters,
    })
    .superRefine((q, ctx) => {
      const page = (q as { page?: number }).page ?? 1;
      const pageSize = (q as { pageSize: number }).pageSize;
      if ((page - 1) * pageSize + pageSize > MAX_PAGED_ROWS) {
        ctx.addIssue({
          code: 'custom',
          path: ['page'],
          message: `page × pageSize must stay within ${MAX_PAGED_ROWS} rows; page on with cursor (the nextCursor of the page before)`,
        });
      }
    });
}
