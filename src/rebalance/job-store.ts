import { QueryTypes, UniqueConstraintError, type Sequelize, type Transaction } from 'sequelize';
import type { PinRow, ShardRow, ShardState } from '../catalog/catalog-store.js';
import { ConflictError } from '../errors/errors.js';
import { uuidv7 } from '../models/index.js';
import type { CatalogSnapshot, PlannedMove } from './planner.js';
import type { JobKind, JobState, MoveStage } from './move-stage.js';
import { moveFromRow, jobFromRow, type JobParams, type JobRecord, type MoveDetail, type MoveRecord } from './job-records.js';

/** What creating a job changes in the catalog, in the same transaction as the job itself. */
export interface JobChanges {
  readonly params: JobParams;
  readonly moves: readonly PlannedMove[];
  /** pins set before the ring changes, so no tenant's placement moves before its data does */
  readonly pins?: readonly PinRow[];
  readonly unpins?: readonly string[];
  readonly shardStates?: ReadonlyArray<{ readonly id: string; readonly state: ShardState }>;
}

export interface MovePatch {
  readonly stage?: MoveStage;
  readonly rowsCopied?: number;
  readonly detail?: MoveDetail;
  readonly error?: string | null;
  readonly attempt?: boolean;
}

type Row = Record<string, unknown>;

/**
 * Move jobs and tenant moves in the catalog database (the catalog's own Sequelize
 * instance). Jobs are claimed with a lease so that, with several gateways, one runs each
 * job and another takes it over when the first stops renewing.
 */
export class JobStore {
  constructor(private readonly sequelize: Sequelize) {}

  private async select(sql: string, bind: unknown[] = [], transaction?: Transaction): Promise<Row[]> {
    return this.sequelize.query<Row>(sql, { type: QueryTypes.SELECT, bind, transaction: transaction ?? null });
  }

  private async exec(sql: string, bind: unknown[] = [], transaction?: Transaction): Promise<number> {
    const [, meta] = await this.sequelize.query(sql, { bind, transaction: transaction ?? null });
    return (meta as { rowCount?: number } | undefined)?.rowCount ?? 0;
  }

  /** The catalog as a planner needs it, read without locks (dry runs). */
  async snapshot(transaction?: Transaction): Promise<CatalogSnapshot> {
    const tenants = await this.select('SELECT id FROM tenants ORDER BY id', [], transaction);
    const shards = await this.select('SELECT id, primary_url, replicas, weight, state FROM shards ORDER BY id', [], transaction);
    const pins = await this.select('SELECT tenant_id, shard_id, reason FROM pins', [], transaction);
    return {
      tenantIds: tenants.map((r) => r.id as string),
      shards: shards.map((r): ShardRow => ({ id: r.id as string, primary: r.primary_url as string, replicas: r.replicas as ShardRow['replicas'], weight: r.weight as number, state: r.state as ShardState })),
      pins: pins.map((r) => ({ tenantId: r.tenant_id as string, shardId: r.shard_id as string, reason: r.reason as string })),
    };
  }

  /**
   * Creates a job from a plan made inside the transaction, with tenants, shards and pins
   * locked against change (new tenants wait), so the plan and the pins it sets cannot race
   * a concurrent job or topology change. A tenant already moving is a 409.
   */
  async createJob(kind: JobKind, plan: (snapshot: CatalogSnapshot, jobId: string) => JobChanges): Promise<{ jobId: string; changes: JobChanges }> {
    const jobId = uuidv7();
    try {
      const changes = await this.sequelize.transaction(async (t) => {
        await this.exec('LOCK TABLE tenants, shards, pins IN SHARE ROW EXCLUSIVE MODE', [], t);
        const changes = plan(await this.snapshot(t), jobId);
        await this.exec('INSERT INTO move_jobs (id, kind, params) VALUES ($1, $2, $3::jsonb)', [jobId, kind, JSON.stringify(changes.params)], t);
        for (const [seq, m] of changes.moves.entries()) {
          await this.exec(
            'INSERT INTO tenant_moves (id, job_id, seq, tenant_id, source_shard, target_shard) VALUES ($1, $2, $3, $4, $5, $6)',
            [uuidv7(), jobId, seq, m.tenant, m.from, m.to],
            t,
          );
        }
        for (const pin of changes.pins ?? []) {
          await this.exec(
            `INSERT INTO pins (tenant_id, shard_id, reason) VALUES ($1, $2, $3)
             ON CONFLICT (tenant_id) DO UPDATE SET shard_id = EXCLUDED.shard_id, reason = EXCLUDED.reason`,
            [pin.tenantId, pin.shardId, pin.reason],
            t,
          );
        }
        for (const tenant of changes.unpins ?? []) await this.exec('DELETE FROM pins WHERE tenant_id = $1', [tenant], t);
        for (const s of changes.shardStates ?? []) await this.exec('UPDATE shards SET state = $2, updated_at = now() WHERE id = $1', [s.id, s.state], t);
        if ((changes.pins?.length ?? 0) + (changes.unpins?.length ?? 0) + (changes.shardStates?.length ?? 0) > 0) {
          await this.exec('UPDATE catalog_meta SET version = version + 1', [], t);
        }
        return changes;
      });
      return { jobId, changes };
    } catch (err) {
      if (err instanceof UniqueConstraintError) throw new ConflictError(`A tenant of this job is already being moved: ${activeTenant(err)}`, 'tenant');
      throw err;
    }
  }

  async job(jobId: string): Promise<JobRecord | undefined> {
    const rows = await this.select('SELECT * FROM move_jobs WHERE id = $1', [jobId]);
    return rows[0] ? jobFromRow(rows[0]) : undefined;
  }

  async moves(jobId: string): Promise<MoveRecord[]> {
    return (await this.select('SELECT * FROM tenant_moves WHERE job_id = $1 ORDER BY seq', [jobId])).map(moveFromRow);
  }

  async activeMove(tenantId: string): Promise<MoveRecord | undefined> {
    const rows = await this.select(`SELECT * FROM tenant_moves WHERE tenant_id = $1 AND stage NOT IN ('done', 'failed')`, [tenantId]);
    return rows[0] ? moveFromRow(rows[0]) : undefined;
  }

  /** Failed moves whose rollback left objects behind, for the sweeper. */
  async movesWithLeftovers(limit = 20): Promise<MoveRecord[]> {
    const rows = await this.select(
      `SELECT * FROM tenant_moves WHERE stage = 'failed' AND jsonb_array_length(coalesce(detail -> 'leftovers', '[]'::jsonb)) > 0
        ORDER BY updated_at LIMIT $1`,
      [limit],
    );
    return rows.map(moveFromRow);
  }

  /** Open jobs nobody holds a live lease on (or this owner does), oldest first. */
  async claimable(owner: string): Promise<string[]> {
    const rows = await this.select(
      `SELECT id FROM move_jobs WHERE state IN ('pending', 'running')
          AND (owner IS NULL OR owner = $1 OR lease_until < now()) ORDER BY created_at`,
      [owner],
    );
    return rows.map((r) => r.id as string);
  }

  /** Takes (or keeps) the job's lease; false when another owner holds a live one. */
  async claim(jobId: string, owner: string, leaseMs: number): Promise<boolean> {
    const n = await this.exec(
      `UPDATE move_jobs SET owner = $2, lease_until = now() + make_interval(secs => $3 / 1000.0), updated_at = now()
        WHERE id = $1 AND state IN ('pending', 'running') AND (owner IS NULL OR owner = $2 OR lease_until < now())`,
      [jobId, owner, leaseMs],
    );
    return n === 1;
  }

  /** Lets the job go at once (a stopping gateway), so another gateway need not wait for the lease to run out. */
  async release(jobId: string, owner: string): Promise<void> {
    await this.exec('UPDATE move_jobs SET owner = NULL, lease_until = NULL WHERE id = $1 AND owner = $2', [jobId, owner]);
  }

  async setJobState(jobId: string, state: JobState, error: string | null = null): Promise<void> {
    const progress = await this.select(
      `SELECT count(*) FILTER (WHERE stage = 'done')::int AS "tenantsDone", count(*)::int AS "tenantsTotal",
              coalesce(sum(rows_copied), 0)::bigint::text AS "rowsCopied" FROM tenant_moves WHERE job_id = $1`,
      [jobId],
    );
    const p = progress[0] ?? {};
    await this.exec(
      `UPDATE move_jobs SET state = $2, error = $3, progress = $4::jsonb, updated_at = now(),
              owner = CASE WHEN $2 IN ('succeeded', 'failed') THEN NULL ELSE owner END
        WHERE id = $1`,
      [jobId, state, error, JSON.stringify({ ...p, rowsCopied: Number(p.rowsCopied ?? 0) })],
    );
  }

  async updateMove(moveId: string, patch: MovePatch): Promise<void> {
    await this.exec(
      `UPDATE tenant_moves SET
          stage = coalesce($2, stage),
          rows_copied = coalesce($3, rows_copied),
          detail = detail || coalesce($4::jsonb, '{}'::jsonb),
          error = CASE WHEN $5 THEN $6 ELSE error END,
          attempts = attempts + CASE WHEN $7 THEN 1 ELSE 0 END,
          started_at = CASE WHEN $2 = 'copying' AND started_at IS NULL THEN now() ELSE started_at END,
          finished_at = CASE WHEN $2 IN ('done', 'failed') THEN now() ELSE finished_at END,
          updated_at = now()
        WHERE id = $1`,
      [moveId, patch.stage ?? null, patch.rowsCopied ?? null, patch.detail === undefined ? null : JSON.stringify(patch.detail),
        patch.error !== undefined, patch.error ?? null, patch.attempt === true],
    );
  }

  /** A shard's state (a drained shard is retired); bumps the catalog version. */
  async setShardState(shardId: string, state: ShardState): Promise<void> {
    await this.sequelize.transaction(async (t) => {
      await this.exec('UPDATE shards SET state = $2, updated_at = now() WHERE id = $1', [shardId, state], t);
      await this.exec('UPDATE catalog_meta SET version = version + 1', [], t);
    });
  }
}

function activeTenant(err: UniqueConstraintError): string {
  const detail = (err.parent as { detail?: string } | undefined)?.detail ?? '';
  return /\(tenant_id\)=\((.*)\)/.exec(detail)?.[1] ?? 'unknown';
}
