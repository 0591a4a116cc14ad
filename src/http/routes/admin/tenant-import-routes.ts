import express, { type Router } from 'express';
import { z } from 'zod';
import type { TenantTransfer } from '../../../rebalance/transfer/tenant-transfer.js';
import { GatewayError } from '../../../errors/errors.js';
import { parseInput, queryBool } from '../../input/validation.js';
import { ndjsonLines } from '../../input/ndjson-lines.js';
import { tenantParam } from '../../input/record-params.js';

const importQuery = z.strictObject({ replace: queryBool.default(false) });
const NDJSON_TYPES = ['application/x-ndjson', 'application/ndjson', 'application/jsonl', 'application/json-seq', 'text/plain'];
/** one row as JSON; rows are small, and a line without an end would otherwise be buffered forever */
const MAX_LINE_BYTES = 4 * 1024 * 1024;

export interface AdminTenantImportDeps {
  readonly tenantTransfer: TenantTransfer;
}

/**
 * POST /admin/tenants/:id/import[?replace=true]: an export's NDJSON restored into the
 * tenant's shard in one transaction. 400 names the bad line; 409 when the tenant already
 * has rows (unless replace); 503 while the tenant is fenced by a move. Mounted before the
 * JSON body parser: the body is read here, as a stream.
 */
export function adminTenantImportRoutes(deps: AdminTenantImportDeps): Router {
  const router = express.Router();
  router.post('/tenants/:id/import', async (req, res) => {
    const id = tenantParam(req);
    const query = parseInput(importQuery, { ...req.query });
    if (req.headers['content-type'] !== undefined && !req.is(NDJSON_TYPES)) {
      throw new GatewayError('UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/x-ndjson', { field: 'Content-Type' });
    }
    const result = await deps.tenantTransfer.import(id, ndjsonLines(req, MAX_LINE_BYTES), { replace: query.replace });
    const total = Object.values(result.rows).reduce((a, b) => a + b, 0);
    res.json({ tenant: id, shard: result.shard, rows: result.rows, total });
  });
  return router;
}
