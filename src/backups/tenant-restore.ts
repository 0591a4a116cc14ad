import path from 'node:path';
import type { BackupStore } from '../catalog/backup-store.js';
import { adminPrimaryUrl, type ShardTopology } from '../cluster/shard-registry.js';
import { ConflictError, NotFoundError, NotRestorableError, ValidationError } from '../errors/errors.js';
import { withAdminClient, type AdminClientOptions } from '../rebalance/shard-sql/admin-client.js';
import { exportTenant } from '../rebalance/transfer/tenant-export.js';
import type { RebindRows } from './rebind-rows.js';
import type { ScratchInstance } from './scratch-instance.js';

export type RestoreInto = 'new' | 'replace';

/** The restore's own entry in the tenant's audit trail, written with its rows. */
export interface RestoreAudit {
  readonly id: string;
  readonly values: Readonly<Record<string, unknown>>;
}

/** What the restore job needs of the rest of the gateway. */
export interface TenantRestoreDeps {
  readonly store: BackupStore;
  readonly scratch: ScratchInstance;
  readonly shards: () => Promise<readonly Pick<ShardTopology, 'id' | 'primary' | 'admin'>[]>;
  /** the shard the tenant lived on at a moment (placement history), else where it is now */
  readonly shardAt: (tenantId: string, at: Date) => Promise<string | undefined>;
  readonly tenantExists: (tenantId: string) => Promise<boolean>;
  /** true while a move of the tenant is open: a restore in place would fight its fence */
  readonly moving: (tenantId: string) => Promise<boolean>;
  /** a new tenant, placed by the ring: its id and its one API key */
  readonly createTenant: (name: string) => Promise<{ id: string; apiKey: string }>;
  /** a further API key for a tenant (a resumed restore's new tenant: the first key died with the pod that made it) */
  readonly issueKey: (tenantId: string) => Promise<string>;
  /** a new tenant's rows: these NDJSON lines, atomically, on the shard it is placed on */
  readonly importRows: (tenantId: string, lines: readonly string[], audit: RestoreAudit) => Promise<Record<string, number>>;
  /** the tenant's rows replaced with these lines behind the write fence (`fenceId`: the job's) */
  readonly replaceRows: (tenantId: string, fenceId: string, lines: readonly string[], audit: RestoreAudit) => Promise<Record<string, number>>;
  readonly rebind: RebindRows;
  readonly admin: AdminClientOptions;
}

export interface TenantRestoreOptions {
  /** where scratch servers' data directories go: `<scratchDir>/<job id>` */
  readonly scratchDir: string;
  readonly archiveDir: string;
  /** how long the WAL that covers the moment may take to reach the archive */
  readonly archiveWaitMs: number;
}

/**
 * One tenant's rows as they were at a moment, from the backups of the shard it lived on
 * then: a scratch server recovered from that shard's newest base backup before the moment
 * and its WAL archive up to the moment, the tenant's rows exported from it (the export
 * path), then imported into a new tenant (`into: new`, ids and sealed fields rebound to
 * it) or in place of the tenant's current rows (`replace`: behind the move's write fence,
 * one transaction on its shard), counts verified. Other tenants, on the same shard or not, are never touched. The scratch
 * server goes whatever happens; a job resumed after a crash starts it again from scratch.
 */
export class TenantRestore {
  constructor(
    private readonly deps: TenantRestoreDeps,
    private readonly options: TenantRestoreOptions,
  ) {}

  /** Checks a request and returns what the job will do; 404, 400 or 422 otherwise. */
  async plan(tenantId: string, atText: string, into: RestoreInto): Promise<Record<string, unknown>> {
    if (!(await this.deps.tenantExists(tenantId))) throw new NotFoundError('tenant', tenantId);
    const at = new Date(atText);
    if (Number.isNaN(at.getTime())) throw new ValidationError('at', 'at must be an ISO 8601 moment, e.g. 2026-12-06T14:03:00Z');
    if (at.getTime() > Date.now()) throw new NotRestorableError(`at ${at.toISOString()} is in the future: nothing is archived past now`);
    const shard = await this.deps.shardAt(tenantId, at);
    if (shard === undefined) throw new NotRestorableError(`tenant ${tenantId} did not exist at ${at.toISOString()}`);
    const backup = await this.deps.store.restorableAt(shard, at);
    if (!backup) {
      throw new NotRestorableError(`at ${at.toISOString()} is outside shard ${shard}'s restorable window: no base backup of it ended before then (GET /admin/backups/windows)`);
    }
    if (into === 'replace' && (await this.deps.moving(tenantId))) {
      throw new ConflictError(`tenant ${tenantId} is being moved: restore it in place once the move has ended (or restore into a new tenant now)`, 'tenantId');
    }
    for (const id of await this.deps.store.open('restore')) {
      const other = await this.deps.store.run(id);
      if (other?.params.shard === shard) throw new ConflictError(`restore ${id} from shard ${shard}'s backups is running: one at a time per shard`, 'tenantId');
    }
    return { tenantId, at: at.toISOString(), into, shard, backupId: backup.id, backup: backup.location };
  }

  /**
   * Runs the job's stages, recording each in its progress; returns the job's result. A run
   * resumed after a crash repeats the recovery (the scratch server did not survive) but
   * keeps a new tenant it already created.
   */
  async run(
    jobId: string,
    params: Record<string, unknown>,
    progress: Record<string, unknown>,
    report: (patch: Record<string, unknown>) => Promise<void>,
  ): Promise<Record<string, unknown>> {
    const { tenantId, shard, backup, into } = params as { tenantId: string; shard: string; backup: string; into: RestoreInto };
    const at = new Date(params.at as string);
    const dir = path.join(this.options.scratchDir, jobId);
    try {
      await report({ stage: 'archiving' });
      await this.#archiveThrough(shard);
      await report({ stage: 'recovering' });
      const scratch = await this.deps.scratch.start(dir, { backup, archive: path.join(this.options.archiveDir, shard), at });
      await report({ stage: 'exporting' });
      const lines: string[] = [];
      await exportTenant(scratch.url, this.deps.admin, tenantId, (line) => void lines.push(line));
      const exported = countByTable(lines);
      let target = tenantId;
      let apiKey: string | undefined;
      if (into === 'new') {
        const made = progress.newTenant as string | undefined;
        if (made === undefined) {
          const created = await this.deps.createTenant(`restore of ${tenantId} at ${at.toISOString()}`);
          await report({ newTenant: created.id });
          ({ id: target, apiKey } = created);
        } else {
          target = made;
          apiKey = await this.deps.issueKey(made);
        }
      }
      await report({ stage: 'importing', rowsExported: lines.length });
      // the job's id, so a resumed run writes the same entry (the import replaces the trail it restores)
      const audit = { id: jobId, values: { restore: jobId, restoredFrom: tenantId, at: at.toISOString(), into, shard, rowsRestored: lines.length } };
      const rows =
        into === 'replace'
          ? await this.deps.replaceRows(tenantId, jobId, lines, audit)
          : await this.deps.importRows(target, lines.map((l) => this.deps.rebind(l, tenantId, target)), audit);
      for (const [table, n] of Object.entries(exported)) {
        if ((rows[table] ?? 0) !== n) throw new Error(`verification failed: ${table} exported ${n} rows, imported ${rows[table] ?? 0}`);
      }
      await report({ stage: 'done' });
      return { tenantId: target, restoredFrom: tenantId, at: at.toISOString(), shard, into, rows, ...(apiKey === undefined ? {} : { apiKey }) };
    } finally {
      await this.deps.scratch.remove(dir).catch(() => undefined);
    }
  }

  /**
   * Makes the archive cover the moment: a commit after it (recovery stops at the first
   * commit past its target) and the WAL segment holding it switched out and archived.
   */
  async #archiveThrough(shardId: string): Promise<void> {
    const shard = (await this.deps.shards()).find((s) => s.id === shardId);
    if (!shard) throw new Error(`shard ${shardId} is no longer in the fleet`);
    await withAdminClient(adminPrimaryUrl(shard), this.deps.admin, 'restore', async (client) => {
      await client.query('BEGIN');
      await client.query('SELECT pg_current_xact_id()');
      await client.query('COMMIT');
      const { rows } = await client.query<{ file: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS file');
      const until = performance.now() + this.options.archiveWaitMs;
      for (;;) {
        const [st] = (await client.query<{ last: string | null }>('SELECT last_archived_wal AS last FROM pg_stat_archiver')).rows;
        if (st?.last && st.last.slice(0, 24) >= rows[0]!.file) return;
        if (performance.now() > until) throw new Error(`shard ${shardId} has not archived ${rows[0]!.file} within ${this.options.archiveWaitMs} ms: check its archive_command`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    });
  }
}

function countByTable(lines: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of lines) {
    const table = (JSON.parse(line) as { table: string }).table;
    counts[table] = (counts[table] ?? 0) + 1;
  }
  return counts;
}
