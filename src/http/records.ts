import type { Response } from 'express';
import { ValidationError } from '../errors/errors.js';

/** If-Match: "3" (or W/"3", or bare 3); `*` or absent means unconditional. */
export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined || header.trim() === '*') return undefined;
  const match = /^\s*(?:W\/)?"?(\d{1,9})"?\s*$/.exec(header);
  if (!match) throw new ValidationError('If-Match', 'If-Match must be a quoted version, e.g. "3"');
  return Number(match[1]);
}

/** A single versioned record: ETag is its version; writes add the consistency token. */
export function sendRecord(res: Response, status: number, record: { readonly version: number }, token?: string): void {
  res.setHeader('ETag', `"${record.version}"`);
  if (token !== undefined) res.setHeader('X-Consistency-Token', token);
  res.status(status).json(record);
}
