import express, { type Router } from 'express';
import { z } from 'zod';
import type { BackupRecord } from '../../../catalog/backup-store.js';
import { tenantParam } from '../../input/record-params.js';
import { parseInput } from '../../input/validation.js';
import { backupsNotConfigured, type FleetBackups, type RestorableWindow } from '../../../backups/fleet-backups.js';

export interface AdminBackupsDeps {
  /** undefined: this deployment's backups are the platform's (the routes answer 409) */
  readonly backups: FleetBackups | undefined;
  readonly shardIds: () => Promise<readonly string[]>;
}

const restoreInput = z.strictObject({
  at: z.string({ error: 'must be an ISO 8601 moment, e.g. 2026-12-06T14:03:00Z' }).min(1, 'must be an ISO 8601 moment').max(64, 'must be an ISO 8601 moment'),
  into: z.enum(['new', 'replace'], { error: 'must be "new" (a new tenant gets the rows) or "replace" (the tenant\'s rows are replaced)' }),
});

function view(b: BackupRecord, window: RestorableWindow | undefined): Record<string, unknown> {
  return {
    id: b.id,
    shard: b.shard,
    state: b.state,
    startedAt: b.startedAt,
    finishedAt: b.finishedAt,
    consistentAt: b.consistentAt,
    sizeBytes: b.sizeBytes,
    walFrom: b.walFrom,
    ...(b.error ? { error: b.error } : {}),
    // the shard's restorable window, on each of its backups (the list is the contract's bare array)
    window: window ? { from: window.from, to: window.to } : null,
  };
}

/** /admin/backups: a base backup of every shard (a job), and the backups with each shard's restorable window. */
export function adminBackupsRoutes(deps: AdminBackupsDeps): Router {
  const router = express.Router();
  router.post('/backups', async (_req, res) => {
    if (!deps.backups) throw backupsNotConfigured();
    const job = await deps.backups.jobs.submit();
    res.status(202).json({ jobId: job.id });
  });
  router.get('/backups', async (_req, res) => {
    if (!deps.backups) throw backupsNotConfigured();
    const { backups, store } = deps.backups;
    const list = await store.list();
    const windows = new Map<string, RestorableWindow>();
    for (const shard of new Set([...list.map((b) => b.shard), ...(await deps.shardIds())])) windows.set(shard, await backups.window(shard));
    res.json(list.map((b) => view(b, windows.get(b.shard))));
  });
  // the tenant's rows as they were at `at`, into a new tenant or in place (a job: GET /admin/jobs/:id)
  router.post('/tenants/:id/restore', async (req, res) => {
    if (!deps.backups) throw backupsNotConfigured();
    const id = tenantParam(req);
    const input = parseInput(restoreInput, req.body);
    const job = await deps.backups.jobs.submitRestore(id, input.at, input.into);
    res.status(202).json({ jobId: job.id });
  });
  router.get('/backups/windows', async (_req, res) => {
    if (!deps.backups) throw backupsNotConfigured();
    const { backups } = deps.backups;
    res.json(await Promise.all((await deps.shardIds()).map((shard) => backups.window(shard))));
  });
  return router;
}
