import express, { type Router } from 'express';
import { z } from 'zod';
import type { MoveJobs } from '../../../rebalance/jobs/move-jobs.js';
import { parseInput } from '../../input/validation.js';
import { tenantParam } from '../../input/record-params.js';

const moveInput = z.strictObject({ to: z.string({ error: 'must be a shard id' }).min(1, 'must be a shard id').max(63) });

export interface AdminTenantMoveDeps {
  readonly moveJobs: MoveJobs;
}

/** POST /admin/tenants/:id/move {to}: 202 {jobId}; 404 unknown tenant, 400 unknown shard, 409 already there or moving. */
export function adminTenantMoveRoutes(deps: AdminTenantMoveDeps): Router {
  const router = express.Router();
  router.post('/tenants/:id/move', async (req, res) => {
    const id = tenantParam(req);
    const input = parseInput(moveInput, req.body);
    const jobId = await deps.moveJobs.startMove(id, input.to);
    res.setHeader('Location', `/admin/jobs/${jobId}`);
    res.status(202).json({ jobId });
  });
  return router;
}
