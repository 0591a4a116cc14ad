import express, { type Router } from 'express';
import { z } from 'zod';
import { parseInput } from '../../input/validation.js';
import { tenantParam } from '../../input/record-params.js';
import type { TenantIsolation } from '../../../insights/tenant-isolation.js';

const ISOLATE_INPUT = z
  .strictObject({
    /** true unless said otherwise: an isolation is looked at before it is made */
    dryRun: z.boolean({ error: 'must be true or false' }).default(true),
    to: z.string({ error: 'must be a shard id' }).min(1, 'must be a shard id').max(63).optional(),
  })
  .prefault({});

export interface FindingsRoutesDeps {
  readonly isolation: TenantIsolation;
}

/**
 * GET /admin/findings: the hot tenants the detector sees now. POST /admin/tenants/:id/isolate
 * {dryRun = true, to?}: the move that would isolate it (200), or, with dryRun false, the
 * move started (202 with its job, Location the job).
 */
export function findingsRoutes(deps: FindingsRoutesDeps): Router {
  const router = express.Router();
  router.get('/findings', async (_req, res) => {
    const { findings, podOnly } = await deps.isolation.findings();
    if (podOnly) res.setHeader('Shardgate-Usage-Partial', 'this pod only: Redis did not answer');
    res.json({ findings });
  });
  router.post('/tenants/:id/isolate', async (req, res) => {
    const tenant = tenantParam(req);
    const input = parseInput(ISOLATE_INPUT, req.body ?? {});
    const plan = await deps.isolation.isolate(tenant, input);
    if (plan.jobId === undefined) {
      res.json(plan);
      return;
    }
    res.setHeader('Location', `/admin/jobs/${plan.jobId}`);
    res.status(202).json(plan);
  });
  return router;
}
