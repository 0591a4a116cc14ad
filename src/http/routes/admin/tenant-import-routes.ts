import express, { type Router } from 'express';
import { z } from 'zod';
import type { TenantTransfer } from '../../../rebalance/transfer/tenant-transfer.js';
import { GatewayError } from '../../../errors/errors.js';
import { parseInput, queryBool } from '../../input/validation.js';
import { ndjsonLines } from '../../input/ndjson-lines.js';
import { boundedBody, drainRequest } from '../../input/bounded-body.js';
import { tenantParam } from '../../input/record-params.js';

const importQuery = z.strictObject({ replace: queryBool.default(false) });
const NDJSON_TYPES = ['application/x-ndjson', 'application/ndjson', 'application/jsonl', 'application/json-seq', 'text/plain'];
/** one row as JSON; rows are small, and a line without an end would otherwise be buffered forever */
const MAX_LINE_BYTES = 4 * 1024 * 1024;

export interface AdminTenantImportDeps {
  readonly tenantTransfer: TenantTransfer;
  /** bytes an import body may have (config `transfer.maxImportBytes`) */
  readonly maxImportBytes: number;
}

/**
 * POST /admin/tenants/:id/import[?replace=true]: an export's NDJSON restored into the
 * tenant's shard in one transaction. 400 names the bad line; 409 when the tenant already
 * has rows (unless replace); 413 past `transfer.maxImportBytes` (the transaction rolls
 * back: nothing is imported); 503 while the tenant is fenced by a move. Mounted before the
 * JSON body parser: the body is read here, as a stream.
 */
export function adminTenantImportRoutes(deps: AdminTenantImportDeps): Router {
  const router = express.Router();
  router.post('/tenants/:id/import', async (req, res) => {
    try {
      const id = tenantParam(req);
      const query = parseInput(importQuery, { ...req.query });
      if (req.headers['content-type'] !== undefined && !req.is(NDJSON_TYPES)) {
        throw new GatewayError('UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/x-ndjson', { field: 'Content-Type' });
      }
      const body = boundedBody(req, deps.maxImportBytes, 'transfer.maxImportBytes');
      const result = await deps.tenantTransfer.import(id, ndjsonLines(body, MAX_LINE_BYTES), { replace: query.replace });
      const total = Object.values(result.rows).reduce((a, b) => a + b, 0);
      res.json({ tenant: id, shard: result.shard, rows: result.rows, total });
    } catch (err) {
      // refused before the whole body was read: read the rest away so the answer gets through
      drainRequest(req);
      throw err;
    }
  });
  return router;
}
