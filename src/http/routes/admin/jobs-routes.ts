import express, { type Router } from 'express';
import type { MoveJobs } from '../../../rebalance/jobs/move-jobs.js';
import { NotFoundError } from '../../../errors/errors.js';
import { UUID_PATTERN } from '../../../models/index.js';

export interface AdminJobsDeps {
  readonly moveJobs: MoveJobs;
}

/** GET /admin/jobs/:id: {id, state, progress: {tenantsDone, tenantsTotal, rowsCopied}, moves, error?} */
export function adminJobsRoutes(deps: AdminJobsDeps): Router {
  const router = express.Router();
  router.get('/jobs/:id', async (req, res) => {
    const id = String(req.params.id);
    if (!UUID_PATTERN.test(id)) throw new NotFoundError('job', id);
    res.json(await deps.moveJobs.view(id.toLowerCase()));
  });
  return router;
}
