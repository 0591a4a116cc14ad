import type { Request } from 'express';
import { NotFoundError, ValidationError } from '../../errors/errors.js';
import { UUID_PATTERN } from '../../models/index.js';

/** If-Match: "3" (or W/"3", or bare 3); `*` or absent means unconditional. */
export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined || header.trim() === '*') return undefined;
  const match = /^\s*(?:W\/)?"?(\d{1,9})"?\s*$/.exec(header);
  if (!match) throw new ValidationError('If-Match', 'If-Match must be a quoted version, e.g. "3"');
  return Number(match[1]);
}

/** What a tenant id may be: it appears in URLs, logs and DDL literals (always quoted). */
export const TENANT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/** The tenant an admin path names. A malformed id names no tenant: the same 404 as an unknown one. */
export function tenantParam(req: Request): string {
  const id = String(req.params.id);
  if (!TENANT_ID_PATTERN.test(id)) throw new NotFoundError('tenant', id);
  return id;
}

/** A record id from the path. A malformed id names no record: the same 404 as an unknown one. */
export function recordId(req: Request, what: string): string {
  const id = String(req.params.id);
  if (!UUID_PATTERN.test(id)) throw new NotFoundError(what, id);
  return id.toLowerCase();
}

/** `sort=-price` → { field: 'price', direction: 'DESC' } (the value was validated against a whitelist). */
export function parseSort<F extends string>(sort: string): { field: F; direction: 'ASC' | 'DESC' } {
  const descending = sort.startsWith('-');
  return { field: (descending ? sort.slice(1) : sort) as F, direction: descending ? 'DESC' : 'ASC' };
}

/** Page numbers unless the client asked for keyset paging with a cursor. */
export function pageUnlessCursor(q: { readonly page?: number | undefined; readonly cursor?: string | undefined }): number | undefined {
  return q.cursor === undefined ? (q.page ?? 1) : undefined;
}
