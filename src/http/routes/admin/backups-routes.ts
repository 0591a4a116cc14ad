import express, { type Router } from 'express';
import type { BackupRecord } from '../../../catalog/backup-store.js';
import { backupsNotConfigured, type FleetBackups, type RestorableWindow } from '../../../backups/fleet-backups.js';

export interface AdminBackupsDeps {
  /** undefined: this deployment's backups are the platform's (the routes answer 409) */
  readonly backups: FleetBackups | undefined;
  readonly shardIds: () => Promise<readonly string[]>;
}

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
  router.get('/backups/windows', async (_req, res) => {
    if (!deps.backups) throw backupsNotConfigured();
    const { backups } = deps.backups;
    res.json(await Promise.all((await deps.shardIds()).map((shard) => backups.window(shard))));
  });
  return router;
}
