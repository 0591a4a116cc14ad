import express, { type Router } from 'express';
import type { BackupStore } from '../../../catalog/backup-store.js';
import type { TransactionStore } from '../../../catalog/transaction-store.js';
import type { MoveJobs } from '../../../rebalance/jobs/move-jobs.js';
import { NotFoundError } from '../../../errors/errors.js';
import { UUID_PATTERN } from '../../../models/index.js';
import { eraseJobView } from '../../../transactions/transfer-view.js';

export interface AdminJobsDeps {
  readonly moveJobs: MoveJobs;
  /** backup and restore jobs (absent where backups are the platform's) */
  readonly backups: { readonly store: Pick<BackupStore, 'run'> } | undefined;
  /** a tenant erase's job id is its transaction's */
  readonly transactions: Pick<TransactionStore, 'get' | 'steps'>;
}

/**
 * GET /admin/jobs/:id: a move job `{id, state, progress: {tenantsDone, tenantsTotal, rowsCopied}, moves, error?}`,
 * a tenant erase `{id, kind: "erase", tenant, state, progress: {stage, rowsDeleted}, steps}`, or a backup or
 * restore job `{id, kind, state, progress, result, error, createdAt, finishedAt}`.
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
      if (erase?.kind === 'erase') {
        res.json(eraseJobView(erase, await deps.transactions.steps(erase.id)));
        return;
      }
      const run = await deps.backups?.store.run(id.toLowerCase());
      if (!run) throw err;
      res.json({ id: run.id, kind: run.kind, state: run.state, progress: run.progress, result: run.result, error: run.error, createdAt: run.createdAt, finishedAt: run.finishedAt });
    }
  });
  return router;
}
