import express, { type Router } from 'express';
import { z } from 'zod';
import type { MoveJobs } from '../../../rebalance/jobs/move-jobs.js';
import { parseInput } from '../../input/validation.js';

const rebalanceInput = z.strictObject({ dryRun: z.boolean({ error: 'must be true or false' }).default(false) });

export interface AdminRebalanceDeps {
  readonly moveJobs: MoveJobs;
}

/**
 * POST /admin/rebalance {dryRun?}: the ring of every active and standby shard against
 * where tenants are. Dry run: 200 {moves}; else 202 {jobId} (standby shards join the ring).
 */
export function adminRebalanceRoutes(deps: AdminRebalanceDeps): Router {
  const router = express.Router();
  router.post('/rebalance', async (req, res) => {
    const input = parseInput(rebalanceInput, req.body ?? {});
    if (input.dryRun) {
      res.json({ moves: await deps.moveJobs.planRebalance() });
      return;
    }
    const jobId = await deps.moveJobs.startRebalance();
    res.setHeader('Location', `/admin/jobs/${jobId}`);
    res.status(202).json({ jobId });
  });
  return router;
}
