import express, { type Router } from 'express';
import { once } from 'node:events';
import type { TenantTransfer } from '../../../rebalance/transfer/tenant-transfer.js';
import { tenantParam } from '../../input/record-params.js';

export interface AdminTenantExportDeps {
  readonly tenantTransfer: TenantTransfer;
}

/**
 * GET /admin/tenants/:id/export: the tenant's rows as NDJSON, one `{"table","row"}` a
 * line, streamed from its primary in one snapshot. An error after the first byte can only
 * cut the stream short (the status is sent): the response then ends without a final chunk.
 */
export function adminTenantExportRoutes(deps: AdminTenantExportDeps): Router {
  const router = express.Router();
  router.get('/tenants/:id/export', async (req, res) => {
    const id = tenantParam(req);
    const stream = await deps.tenantTransfer.export(id);
    res.status(200).type('application/x-ndjson');
    res.setHeader('Content-Disposition', `attachment; filename="${id}.ndjson"`);
    try {
      await stream(async (line) => {
        if (!res.write(line)) await once(res, 'drain');
      });
      res.end();
    } catch (err) {
      if (!res.headersSent) throw err;
      res.destroy(err as Error);
    }
  });
  return router;
}
