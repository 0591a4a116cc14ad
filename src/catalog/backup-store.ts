import type { CatalogDatabase, Row } from './catalog-database.js';

export type BackupRunKind = 'backup' | 'restore';
export type BackupRunState = 'pending' | 'running' | 'succeeded' | 'failed';

/** A backup job (every shard's base backup) or a restore job, as the catalog keeps it. */
export interface BackupRun {
  readonly id: string;
  readonly kind: BackupRunKind;
  readonly state: BackupRunState;
  readonly params: Record<string, unknown>;
  readonly progress: Record<string, unknown>;
  readonly result: Record<string, unknown> | null;
  readonly error: string | null;
  readonly createdAt: string;
  readonly finishedAt: string | null;
}

/** One base backup of one shard. */
export interface BackupRecord {
  readonly id: string;
  readonly runId: string | null;
  readonly shard: string;
  readonly state: 'running' | 'done' | 'failed' | 'deleted';
  readonly location: string;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  /** the earliest moment the backup restores to (it ended there) */
  readonly consistentAt: string | null;
  /** the first WAL segment a restore from it needs */
  readonly walFrom: string | null;
  readonly sizeBytes: number | null;
  readonly error: string | null;
}

const iso = (v: unknown): string | null => (v === null || v === undefined ? null : new Date(v as string).toISOString());

function runFromRow(r: Row): BackupRun {
  return {
    id: r.id as string,
    kind: r.kind as BackupRunKind,
    state: r.state as BackupRunState,
    params: r.params as Record<string, unknown>,
    progress: r.progress as Record<string, unknown>,
    result: (r.result as Record<string, unknown> | null) ?? null,
    error: (r.error as string | null) ?? null,
    createdAt: iso(r.created_at)!,
    finishedAt: iso(r.finished_at),
  };
}

function backupFromRow(r: Row): BackupRecord {
  return {
    id: r.id as string,
    runId: (r.run_id as string | null) ?? null,
    shard: r.shard_id as string,
    state: r.state as BackupRecord['state'],
    location: r.location as string,
    startedAt: iso(r.started_at)!,
    finishedAt: iso(r.finished_at),
    consistentAt: iso(r.consistent_at),
    walFrom: (r.wal_from as string | null) ?? null,
    sizeBytes: r.size_bytes === null || r.size_bytes === undefined ? null : Number(r.size_bytes),
    error: (r.error as string | null) ?? null,
  };
}

/**
 * Backup and restore jobs and the base backups they made. A job is claimed under a lease,
 * like a move job: when its gateway stops renewing, another takes it over and resumes it.
 */
export class BackupStore {
  constructor(private readonly db: CatalogDatabase) {}

  async createRun(id: string, kind: BackupRunKind, params: Record<string, unknown>): Promise<void> {
    await this.db.exec('INSERT INTO backup_runs (id, kind, params) VALUES ($1, $2, $3::jsonb)', [id, kind, JSON.stringify(params)]);
  }

  async run(id: string): Promise<BackupRun | undefined> {
    const [row] = await this.db.select('SELECT * FROM backup_runs WHERE id = $1', [id]);
    return row && runFromRow(row);
  }

  /** The ids of open jobs of a kind, oldest first. */
  async open(kind: BackupRunKind): Promise<string[]> {
    const rows = await this.db.select(`SELECT id FROM backup_runs WHERE kind = $1 AND state IN ('pending', 'running') ORDER BY created_at`, [kind]);
    return rows.map((r) => r.id as string);
  }

  /** Open jobs this owner may run: its own, unowned, or ones whose lease ran out. */
  async claimable(owner: string): Promise<string[]> {
    const rows = await this.db.select(
      `SELECT id FROM backup_runs WHERE state IN ('pending', 'running') AND (owner IS NULL OR owner = $1 OR lease_until < now()) ORDER BY created_at`,
      [owner],
    );
    return rows.map((r) => r.id as string);
  }

  /** Takes or renews the lease on an open job; false when another owner holds a live one. */
  async claim(id: string, owner: string, leaseMs: number): Promise<boolean> {
    const changed = await this.db.exec(
      `UPDATE backup_runs SET owner = $2, lease_until = now() + $3 * interval '1 millisecond', updated_at = now(),
              state = CASE WHEN state = 'pending' THEN 'running' ELSE state END
        WHERE id = $1 AND state IN ('pending', 'running') AND (owner IS NULL OR owner = $2 OR lease_until < now())`,
      [id, owner, leaseMs],
    );
    return changed === 1;
  }

  /** Merges into the job's progress (a key set to null goes). */
  async progress(id: string, patch: Record<string, unknown>): Promise<void> {
    await this.db.exec(`UPDATE backup_runs SET progress = jsonb_strip_nulls(progress || $2::jsonb), updated_at = now() WHERE id = $1`, [id, JSON.stringify(patch)]);
  }

  /** Ends an open job; given an owner, only while that owner still holds it (a runner that lost its lease ends nothing). */
  async finish(id: string, state: 'succeeded' | 'failed', outcome: { result?: Record<string, unknown>; error?: string }, owner?: string): Promise<void> {
    await this.db.exec(
      `UPDATE backup_runs SET state = $2, result = $3::jsonb, error = $4, owner = NULL, lease_until = NULL, finished_at = now(), updated_at = now()
        WHERE id = $1 AND state IN ('pending', 'running') AND ($5::text IS NULL OR owner = $5)`,
      [id, state, outcome.result === undefined ? null : JSON.stringify(outcome.result), outcome.error ?? null, owner ?? null],
    );
  }

  /** A base backup begun: recorded first, so one a crash interrupts is found and cleared. */
  async beginBackup(id: string, runId: string | null, shard: string, location: string): Promise<void> {
    await this.db.exec('INSERT INTO backups (id, run_id, shard_id, location) VALUES ($1, $2, $3, $4)', [id, runId, shard, location]);
  }

  async endBackup(id: string, outcome: { consistentAt: Date; walFrom: string; sizeBytes: number } | { error: string }): Promise<void> {
    if ('error' in outcome) {
      await this.db.exec(`UPDATE backups SET state = 'failed', error = $2, finished_at = now() WHERE id = $1`, [id, outcome.error]);
      return;
    }
    await this.db.exec(
      `UPDATE backups SET state = 'done', finished_at = now(), consistent_at = $2, wal_from = $3, size_bytes = $4 WHERE id = $1`,
      [id, outcome.consistentAt, outcome.walFrom, outcome.sizeBytes],
    );
  }

  async markDeleted(id: string): Promise<void> {
    await this.db.exec(`UPDATE backups SET state = 'deleted' WHERE id = $1`, [id]);
  }

  /** Backups of one shard (or all), newest first; deleted ones only when asked. */
  async list(options: { shard?: string; states?: readonly BackupRecord['state'][]; runId?: string } = {}): Promise<BackupRecord[]> {
    const rows = await this.db.select(
      `SELECT * FROM backups
        WHERE ($1::text IS NULL OR shard_id = $1) AND state = ANY($2::text[]) AND ($3::uuid IS NULL OR run_id = $3)
        ORDER BY started_at DESC LIMIT 1000`,
      [options.shard ?? null, options.states ?? ['running', 'done', 'failed'], options.runId ?? null],
    );
    return rows.map(backupFromRow);
  }

  /** The newest finished backup of the shard that restores to `at` (it ended at or before it). */
  async restorableAt(shard: string, at: Date): Promise<BackupRecord | undefined> {
    const [row] = await this.db.select(
      `SELECT * FROM backups WHERE shard_id = $1 AND state = 'done' AND consistent_at <= $2 ORDER BY consistent_at DESC LIMIT 1`,
      [shard, at],
    );
    return row && backupFromRow(row);
  }
}
