import { UniqueConstraintError, type Transaction } from 'sequelize';
import { ConflictError } from '../errors/errors.js';
import { uuidv7 } from '../models/index.js';
import type { CatalogDatabase } from './catalog-database.js';
import type { PinStore } from './pin-store.js';
import type { ShardStore } from './shard-store.js';
import type { TenantStore } from './tenant-store.js';
import {
  moveFromRow, jobFromRow, type JobChanges, type JobKind, type JobRecord, type JobState, type MovePatch, type MoveRecord, type PlanInput,
} from './job-rows.js';

/** The stores a job's creation reads and changes along with the job itself. */
export interface JobStoreDeps {
  readonly db: CatalogDatabase;
  readonly tenants: TenantStore;
  readonly shards: ShardStore;
  readonly pins: PinStore;
}

/**
 * Move jobs and tenant moves in the catalog. Jobs are claimed with a lease so that, with
 * several gateways, one runs each job and another takes it over when the first stops renewing.
 */
export class JobStore {
  readonly #db: CatalogDatabase;
  readonly #tenants: TenantStore;
  readonly #shards: ShardStore;
  readonly #pins: PinStore;

  constructor(deps: JobStoreDeps) {
    this.#db = deps.db;
    this.#tenants = deps.tenants;
    this.#shards = deps.shards;
    this.#pins = deps.pins;
  }

  /** The catalog as a planner needs it, read without locks (dry runs) or inside a job's transaction. */
  async planInput(transaction?: Transaction): Promise<PlanInput> {
    const tenantIds = await this.#tenants.listIds(transaction);
    const shards = await this.#shards.list(transaction);
    const pins = await this.#pins.list(transaction);
    return { tenantIds, shards, pins };
  }

  /**
   * Creates a job from a plan made inside the transaction, with tenants, shards and pins
   * locked against change (new tenants wait), so the plan and the pins it sets cannot race
   * a concurrent job or topology change. A tenant already moving is a 409.
   */
  async createJob(kind: JobKind, plan: (input: PlanInput, jobId: string) => JobChanges): Promise<{ jobId: string; changes: JobChanges }> {
    const jobId = uuidv7();
    try {
      const changes = await this.#db.transaction(async (t) => {
        await this.#db.exec('LOCK TABLE tenants, shards, pins IN SHARE ROW EXCLUSIVE MODE', [], t);
        const changes = plan(await this.planInput(t), jobId);
        await this.#db.exec('INSERT INTO move_jobs (id, kind, params) VALUES ($1, $2, $3::jsonb)', [jobId, kind, JSON.stringify(changes.params)], t);
        for (const [seq, m] of changes.moves.entries()) {
          await this.#db.exec(
            'INSERT INTO tenant_moves (id, job_id, seq, tenant_id, source_shard, target_shard) VALUES ($1, $2, $3, $4, $5, $6)',
            [uuidv7(), jobId, seq, m.tenant, m.from, m.to],
            t,
          );
        }
        for (const pin of changes.pins ?? []) await this.#pins.setIn(t, pin);
        for (const tenant of changes.unpins ?? []) await this.#pins.deleteIn(t, tenant);
        for (const s of changes.shardStates ?? []) await this.#shards.setStateIn(t, s.id, s.state);
        if ((changes.pins?.length ?? 0) + (changes.unpins?.length ?? 0) + (changes.shardStates?.length ?? 0) > 0) {
          await this.#db.bumpVersion(t);
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
    const rows = await this.#db.select('SELECT * FROM move_jobs WHERE id = $1', [jobId]);
    return rows[0] ? jobFromRow(rows[0]) : undefined;
  }

  async moves(jobId: string): Promise<MoveRecord[]> {
    return (await this.#db.select('SELECT * FROM tenant_moves WHERE job_id = $1 ORDER BY seq', [jobId])).map(moveFromRow);
  }

  async activeMove(tenantId: string): Promise<MoveRecord | undefined> {
    const rows = await this.#db.select(`SELECT * FROM tenant_moves WHERE tenant_id = $1 AND stage NOT IN ('done', 'failed')`, [tenantId]);
    return rows[0] ? moveFromRow(rows[0]) : undefined;
  }

  /** Failed moves whose rollback left objects behind, for the sweeper. */
  async movesWithLeftovers(limit = 20): Promise<MoveRecord[]> {
    const rows = await this.#db.select(
      `SELECT * FROM tenant_moves WHERE stage = 'failed' AND jsonb_array_length(coalesce(detail -> 'leftovers', '[]'::jsonb)) > 0
        ORDER BY updated_at LIMIT $1`,
      [limit],
    );
    return rows.map(moveFromRow);
  }

  /**
   * Finished moves whose source still keeps the tenant's tombstone fence and finished more
   * than `afterMs` ago (catalog time: finished_at is written after the placement flip).
   */
  async expiredTombstones(afterMs: number, limit = 20): Promise<MoveRecord[]> {
    const rows = await this.#db.select(
      `SELECT * FROM tenant_moves WHERE stage = 'done' AND detail ->> 'tombstone' = 'kept'
          AND finished_at < now() - make_interval(secs => $1::double precision / 1000)
        ORDER BY finished_at LIMIT $2`,
      [afterMs, limit],
    );
    return rows.map(moveFromRow);
  }

  /** Open jobs nobody holds a live lease on (or this owner does), oldest first. */
  async claimable(owner: string): Promise<string[]> {
    const rows = await this.#db.select(
      `SELECT id FROM move_jobs WHERE state IN ('pending', 'running')
          AND (owner IS NULL OR owner = $1 OR lease_until < now()) ORDER BY created_at`,
      [owner],
    );
    return rows.map((r) => r.id as string);
  }

  /** Takes (or keeps) the job's lease; false when another owner holds a live one. */
  async claim(jobId: string, owner: string, leaseMs: number): Promise<boolean> {
    const n = await this.#db.exec(
      `UPDATE move_jobs SET owner = $2, lease_until = now() + make_interval(secs => $3 / 1000.0), updated_at = now()
        WHERE id = $1 AND state IN ('pending', 'running') AND (owner IS NULL OR owner = $2 OR lease_until < now())`,
      [jobId, owner, leaseMs],
    );
    return n === 1;
  }

  /** Lets the job go at once (a stopping gateway), so another gateway need not wait for the lease to run out. */
  async release(jobId: string, owner: string): Promise<void> {
    await this.#db.exec('UPDATE move_jobs SET owner = NULL, lease_until = NULL WHERE id = $1 AND owner = $2', [jobId, owner]);
  }

  async setJobState(jobId: string, state: JobState, error: string | null = null): Promise<void> {
    const progress = await this.#db.select(
      `SELECT count(*) FILTER (WHERE stage = 'done')::int AS "tenantsDone", count(*)::int AS "tenantsTotal",
              coalesce(sum(rows_copied), 0)::bigint::text AS "rowsCopied" FROM tenant_moves WHERE job_id = $1`,
      [jobId],
    );
    const p = progress[0] ?? {};
    await this.#db.exec(
      `UPDATE move_jobs SET state = $2, error = $3, progress = $4::jsonb, updated_at = now(),
              owner = CASE WHEN $2 IN ('succeeded', 'failed') THEN NULL ELSE owner END
        WHERE id = $1`,
      [jobId, state, error, JSON.stringify({ ...p, rowsCopied: Number(p.rowsCopied ?? 0) })],
    );
  }

  async updateMove(moveId: string, patch: MovePatch): Promise<void> {
    await this.#db.exec(
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
}

function activeTenant(err: UniqueConstraintError): string {
  const detail = (err.parent as { detail?: string } | undefined)?.detail ?? '';
  return /\(tenant_id\)=\((.*)\)/.exec(detail)?.[1] ?? 'unknown';
}
