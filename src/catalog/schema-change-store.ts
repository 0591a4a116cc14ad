import type { CatalogDatabase, Row } from './catalog-database.js';

/** An operator's DDL statement, or a rollout of the project's pending shard migrations. */
export type ChangeKind = 'ddl' | 'migrations';
export type ChangeState = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export type ShardChangeState = 'pending' | 'running' | 'done' | 'failed' | 'cancelled';

/** One statement of a change's plan, as the safety check wrote it (see src/schema/ddl/). */
export interface StoredStatement {
  readonly sql: string;
  readonly kind: string;
  readonly concurrent: boolean;
  readonly lockTimeout: boolean;
  readonly index?: string | undefined;
  readonly table: string;
  /** kind 'migration': the shard migration this step applies (with any before it still pending) */
  readonly migration?: string | undefined;
  /** kind 'partitioned-index': the index statement each partition gets (see src/schema/ddl/) */
  readonly partitionIndex?: { readonly statement: unknown } | undefined;
}

export interface ShardChange {
  readonly shard: string;
  readonly state: ShardChangeState;
  /** plan statements done on this shard */
  readonly step: number;
  readonly attempts: number;
  readonly progress: Readonly<Record<string, unknown>> | null;
  readonly error: string | null;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
}

export interface SchemaChange {
  readonly id: string;
  readonly seq: number;
  readonly kind: ChangeKind;
  /** the statement, or for migrations what they are */
  readonly ddl: string;
  readonly plan: readonly StoredStatement[];
  readonly state: ChangeState;
  readonly error: string | null;
  readonly createdAt: string;
  readonly finishedAt: string | null;
  readonly shards: readonly ShardChange[];
}

const iso = (v: unknown): string | null => (v === null || v === undefined ? null : new Date(v as Date).toISOString());

function shardFromRow(r: Row): ShardChange {
  return {
    shard: r.shard_id as string,
    state: r.state as ShardChangeState,
    step: Number(r.step),
    attempts: Number(r.attempts),
    progress: (r.progress as Record<string, unknown> | null) ?? null,
    error: (r.error as string | null) ?? null,
    startedAt: iso(r.started_at),
    finishedAt: iso(r.finished_at),
  };
}

/**
 * Online schema changes in the catalog: the change (its DDL, the plan the safety check made,
 * its place in the fleet's order) and each shard's progress through the plan. A change is
 * claimed with a lease like a move job, so one gateway runs it and another resumes it.
 */
export class SchemaChangeStore {
  constructor(private readonly db: CatalogDatabase) {}

  async create(id: string, kind: ChangeKind, ddl: string, plan: readonly StoredStatement[], shards: readonly string[]): Promise<void> {
    await this.db.transaction(async (t) => {
      await this.db.exec('INSERT INTO schema_changes (id, kind, ddl, plan) VALUES ($1, $2, $3, $4::jsonb)', [id, kind, ddl, JSON.stringify(plan)], t);
      for (const shard of shards) await this.db.exec('INSERT INTO schema_change_shards (change_id, shard_id) VALUES ($1, $2)', [id, shard], t);
    });
  }

  /** A shard that joined the fleet while the change rolled out: it gets the change too. */
  async addShard(id: string, shard: string): Promise<void> {
    await this.db.exec('INSERT INTO schema_change_shards (change_id, shard_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [id, shard]);
  }

  /** The ids of changes still rolling out. */
  async open(): Promise<string[]> {
    return (await this.db.select(`SELECT id FROM schema_changes WHERE state IN ('pending', 'running') ORDER BY seq`)).map((r) => r.id as string);
  }

  async get(id: string): Promise<SchemaChange | undefined> {
    const rows = await this.db.select('SELECT * FROM schema_changes WHERE id = $1', [id]);
    if (rows[0] === undefined) return undefined;
    return this.#withShards(rows[0]);
  }

  /** Newest first. */
  async list(limit = 100): Promise<SchemaChange[]> {
    const rows = await this.db.select('SELECT * FROM schema_changes ORDER BY seq DESC LIMIT $1', [limit]);
    return Promise.all(rows.map((r) => this.#withShards(r)));
  }

  /** Every change that succeeded, in the fleet's order: what a shard added later replays. */
  async succeeded(): Promise<SchemaChange[]> {
    const rows = await this.db.select(`SELECT * FROM schema_changes WHERE state = 'succeeded' ORDER BY seq`);
    return Promise.all(rows.map((r) => this.#withShards(r)));
  }

  /** Open changes nobody holds a live lease on (or `owner` does), in order. */
  async claimable(owner: string): Promise<string[]> {
    const rows = await this.db.select(
      `SELECT id FROM schema_changes WHERE state IN ('pending', 'running') AND (owner IS NULL OR owner = $1 OR lease_until < now()) ORDER BY seq`,
      [owner],
    );
    return rows.map((r) => r.id as string);
  }

  /** Takes (or renews) the lease on an open change; false when another owner holds a live one. */
  async claim(id: string, owner: string, leaseMs: number): Promise<boolean> {
    return (
      (await this.db.exec(
        `UPDATE schema_changes SET owner = $2, lease_until = now() + $3 * interval '1 millisecond', updated_at = now(),
                state = CASE WHEN state = 'pending' THEN 'running' ELSE state END
          WHERE id = $1 AND state IN ('pending', 'running') AND (owner IS NULL OR owner = $2 OR lease_until < now())`,
        [id, owner, leaseMs],
      )) === 1
    );
  }

  /** Ends an open change; given an owner, only while that owner still holds it (a runner that lost its lease ends nothing). */
  async finish(id: string, state: Exclude<ChangeState, 'pending' | 'running'>, error: string | null = null, owner?: string): Promise<void> {
    await this.db.exec(
      `UPDATE schema_changes SET state = $2, error = $3, owner = NULL, lease_until = NULL, updated_at = now(), finished_at = now()
        WHERE id = $1 AND state IN ('pending', 'running') AND ($4::text IS NULL OR owner = $4)`,
      [id, state, error, owner ?? null],
    );
  }

  /** Cancels an open change: its runner stops before its next statement. false when it had ended. */
  async cancel(id: string): Promise<boolean> {
    const n = await this.db.exec(
      `UPDATE schema_changes SET state = 'cancelled', updated_at = now(), finished_at = now() WHERE id = $1 AND state IN ('pending', 'running')`,
      [id],
    );
    if (n > 0) await this.db.exec(`UPDATE schema_change_shards SET state = 'cancelled' WHERE change_id = $1 AND state IN ('pending', 'running')`, [id]);
    return n > 0;
  }

  async state(id: string): Promise<ChangeState | undefined> {
    const rows = await this.db.select('SELECT state FROM schema_changes WHERE id = $1', [id]);
    return rows[0]?.state as ChangeState | undefined;
  }

  /** A shard's progress: its state, the plan statements done, what it is waiting on (merged into what it had, a key set to null dropped; null clears it all). */
  async updateShard(id: string, shard: string, patch: { state?: ShardChangeState; step?: number; attemptsDelta?: number; progress?: Record<string, unknown> | null; error?: string | null }): Promise<void> {
    await this.db.exec(
      `UPDATE schema_change_shards SET
          state = COALESCE($3, state),
          step = COALESCE($4, step),
          attempts = attempts + $5,
          progress = CASE WHEN NOT $6::boolean THEN progress WHEN $7::jsonb IS NULL THEN NULL ELSE NULLIF(jsonb_strip_nulls(COALESCE(progress, '{}'::jsonb) || $7::jsonb), '{}'::jsonb) END,
          error = CASE WHEN $8::boolean THEN $9 ELSE error END,
          started_at = CASE WHEN $3 = 'running' AND started_at IS NULL THEN now() ELSE started_at END,
          finished_at = CASE WHEN $3 IN ('done', 'failed', 'cancelled') THEN now() ELSE finished_at END
        WHERE change_id = $1 AND shard_id = $2`,
      [
        id, shard, patch.state ?? null, patch.step ?? null, patch.attemptsDelta ?? 0,
        patch.progress !== undefined, patch.progress === undefined || patch.progress === null ? null : JSON.stringify(patch.progress),
        patch.error !== undefined, patch.error ?? null,
      ],
    );
  }

  async #withShards(r: Row): Promise<SchemaChange> {
    const shards = await this.db.select('SELECT * FROM schema_change_shards WHERE change_id = $1 ORDER BY shard_id', [r.id]);
    return {
      id: r.id as string,
      seq: Number(r.seq),
      kind: r.kind as ChangeKind,
      ddl: r.ddl as string,
      plan: r.plan as StoredStatement[],
      state: r.state as ChangeState,
      error: (r.error as string | null) ?? null,
      createdAt: iso(r.created_at)!,
      finishedAt: iso(r.finished_at),
      shards: shards.map(shardFromRow),
    };
  }
}
