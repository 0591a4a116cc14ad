import express, { type Router } from 'express';
import type { MoveJobs } from '../../../rebalance/jobs/move-jobs.js';

export interface AdminShardDrainDeps {
  readonly moveJobs: MoveJobs;
}

/** POST /admin/shards/:id/drain: 202 {jobId}; the shard leaves the ring, its tenants move, then it is retired. */
export function adminShardDrainRoutes(deps: AdminShardDrainDeps): Router {
  const router = express.Router();
  router.post('/shards/:id/drain', async (req, res) => {
    const jobId = await deps.moveJobs.startDrain(String(req.params.id));
    res.setHeader('Location', `/admin/jobs/${jobId}`);
    res.status(202).json({ jobId });
  });
  return router;
}
