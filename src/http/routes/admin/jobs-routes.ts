import express, { type Router } from 'express';
import type { TransactionStore } from '../../../catalog/transaction-store.js';
import type { MoveJobs } from '../../../rebalance/jobs/move-jobs.js';
import { NotFoundError } from '../../../errors/errors.js';
import { UUID_PATTERN } from '../../../models/index.js';
import { eraseJobView } from '../../../transactions/transfer-view.js';

export interface AdminJobsDeps {
  readonly moveJobs: MoveJobs;
  /** a tenant erase's job id is its transaction's */
  readonly transactions: Pick<TransactionStore, 'get' | 'steps'>;
}

/**
 * GET /admin/jobs/:id: a move job `{id, state, progress: {tenantsDone, tenantsTotal, rowsCopied}, moves, error?}`,
 * or a tenant erase `{id, kind: "erase", tenant, state, progress: {stage, rowsDeleted}, steps}`.
 */
export function adminJobsRoutes(deps: AdminJobsDeps): Router {
  const router = express.Router();
  router.get('/jobs/:id', async (req, res) => {
    const id = String(req.params.id);
    if (!UUID_PATTERN.test(id)) throw new NotFoundError('job', id);
    try {
      res.json(await deps.moveJobs.view(id.toLowerCase()));
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      const erase = await deps.transactions.get(id.toLowerCase());
      if (erase?.kind !== 'erase') throw err;
      res.json(eraseJobView(erase, await deps.transactions.steps(erase.id)));
    }
  });
  return router;
}
