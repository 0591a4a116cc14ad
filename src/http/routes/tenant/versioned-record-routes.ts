import type { Response, Router } from 'express';
import type { z } from 'zod';
import type { VersionedResource } from '../../../data/versioned-records.js';
import { parseInput } from '../../input/validation.js';
import { parseIfMatch, recordId } from '../../input/record-params.js';
import { sessionOf } from '../../middleware/tenant-context.js';

/** A single versioned record: its ETag is its version. */
export function sendRecord(res: Response, status: number, record: { readonly version: number }): void {
  res.setHeader('ETag', `"${record.version}"`);
  res.status(status).json(record);
}

export interface VersionedRecordRoutesSpec<Dto extends { readonly id: string; readonly version: number }, Input, Patch> {
  /** the record's name in a 404 for a malformed id: 'user', 'product' */
  readonly what: string;
  readonly resource: VersionedResource<Dto, Input, Patch>;
  readonly createInput: z.ZodType<Input>;
  readonly patchInput: z.ZodType<Patch>;
}

/**
 * The writes every versioned resource answers the same way: POST / (201 + Location),
 * PATCH /:id (If-Match), DELETE /:id (soft, 204), POST /:id/restore. Reads differ per
 * resource (caching, paging) and stay with it.
 */
export function versionedRecordRoutes<Dto extends { readonly id: string; readonly version: number }, Input, Patch>(
  router: Router,
  spec: VersionedRecordRoutesSpec<Dto, Input, Patch>,
): void {
  const { what, resource } = spec;

  router.post('/', async (req, res) => {
    const input = parseInput(spec.createInput, req.body);
    const record = await resource.create(sessionOf(res), input);
    res.setHeader('Location', `${req.baseUrl}/${record.id}`);
    sendRecord(res, 201, record);
  });

  router.patch('/:id', async (req, res) => {
    const id = recordId(req, what);
    const expected = parseIfMatch(req.header('if-match'));
    const patch = parseInput(spec.patchInput, req.body);
    sendRecord(res, 200, await resource.update(sessionOf(res), id, patch, expected));
  });

  router.delete('/:id', async (req, res) => {
    await resource.remove(sessionOf(res), recordId(req, what));
    res.status(204).end();
  });

  router.post('/:id/restore', async (req, res) => {
    sendRecord(res, 200, await resource.restore(sessionOf(res), recordId(req, what)));
  });
}
