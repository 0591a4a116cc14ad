import type { Row } from './catalog-database.js';
import type { PinRow, ShardRow, ShardState } from './catalog-rows.js';

export type JobKind = 'move' | 'rebalance' | 'drain';
export type JobState = 'pending' | 'running' | 'succeeded' | 'failed';

/**
 * Every stage tenant_moves.stage may hold (its CHECK constraint lists the same); the state
 * machine over them (order, legal transitions, meaning) is rebalance/move/move-stage.ts.
 */
export const MOVE_STAGES = ['pending', 'copying', 'catching_up', 'fenced', 'verified', 'cutover', 'cleanup', 'done', 'failed'] as const;
export type MoveStage = (typeof MOVE_STAGES)[number];

/** What a job was asked to do (kept for the job's end: a drain retires its shard). */
export interface JobParams {
  readonly shard?: string;
  readonly activated?: readonly string[];
}

/** Facts a move records as it goes, merged into tenant_moves.detail. */
export interface MoveDetail {
  readonly subscriptionOid?: string;
  readonly tables?: Readonly<Record<string, number>>;
  readonly copyMs?: number;
  /** ms of the copy spent waiting for the shards' other work (moves.yield) */
  readonly copyYieldMs?: number;
  /** ms of the cleanup's deletes spent waiting for the shards' other work */
  readonly cleanupYieldMs?: number;
  readonly rowsPerSecond?: number;
  /** where the slot's stream starts: the copy read the rows as of this position */
  readonly slotLsn?: string;
  readonly catchUpMs?: number;
  /** ms of the unfenced baseline of the verification: both sides' checksums on a snapshot */
  readonly baselineMs?: number;
  /** ms of the baseline spent waiting for the shards' other work */
  readonly baselineYieldMs?: number;
  /** ms the source refused the tenant's writes: from taking the fence lock to the placement flip */
  readonly fenceMs?: number;
  /** ms the fence waited for writes already in flight */
  readonly fenceDrainMs?: number;
  /** ms from the fence to the target confirming every write made before it */
  readonly fenceCatchUpMs?: number;
  readonly fenceLsn?: string;
  /** ms the fenced verification took */
  readonly verifyMs?: number;
  /** 'deltas': the baseline plus the changes tracked since it; 'rows': every row read again (no baseline) */
  readonly verifiedBy?: 'deltas' | 'rows';
  readonly pinKept?: boolean;
  /** the source's fence row after the move: kept (refusing gateways that missed the flip) until the write lease makes it safe to remove */
  readonly tombstone?: 'kept' | 'removed';
  /** ms each stage's side effects took in the run that completed it */
  readonly stageMs?: Readonly<Partial<Record<string, number>>>;
  /** what a rollback could not remove (an unreachable server), retried later */
  readonly leftovers?: readonly string[];
}

export interface JobRecord {
  readonly id: string;
  readonly kind: JobKind;
  readonly state: JobState;
  readonly params: JobParams;
  readonly error: string | null;
  readonly owner: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface MoveRecord {
  readonly id: string;
  readonly jobId: string;
  readonly seq: number;
  readonly tenantId: string;
  readonly source: string;
  readonly target: string;
  readonly stage: MoveStage;
  readonly rowsCopied: number;
  readonly attempts: number;
  readonly detail: MoveDetail;
  readonly error: string | null;
}

/** A change of a move; `stage` only through a check of the move's state machine (MoveContext.update). */
export interface MovePatch {
  readonly stage?: MoveStage;
  readonly rowsCopied?: number;
  readonly detail?: MoveDetail;
  readonly error?: string | null;
  readonly attempt?: boolean;
}

/** What a job's plan is computed from: tenants, shards and pins as one catalog transaction saw them. */
export interface PlanInput {
  readonly tenantIds: readonly string[];
  readonly shards: readonly ShardRow[];
  readonly pins: readonly PinRow[];
}

export interface PlannedMove {
  readonly tenant: string;
  readonly from: string;
  readonly to: string;
}

/** What creating a job changes in the catalog, in the same transaction as the job itself. */
export interface JobChanges {
  readonly params: JobParams;
  readonly moves: readonly PlannedMove[];
  /** pins set before the ring changes, so no tenant's placement moves before its data does */
  readonly pins?: readonly PinRow[];
  readonly unpins?: readonly string[];
  readonly shardStates?: ReadonlyArray<{ readonly id: string; readonly state: ShardState }>;
}

export const jobFromRow = (r: Row): JobRecord => ({
  id: r.id as string,
  kind: r.kind as JobKind,
  state: r.state as JobState,
  params: (r.params ?? {}) as JobParams,
  error: (r.error as string | null) ?? null,
  owner: (r.owner as string | null) ?? null,
  createdAt: r.created_at as Date,
  updatedAt: r.updated_at as Date,
});

export const moveFromRow = (r: Row): MoveRecord => ({
  id: r.id as string,
  jobId: r.job_id as string,
  seq: r.seq as number,
  tenantId: r.tenant_id as string,
  source: r.source_shard as string,
  target: r.target_shard as string,
  stage: r.stage as MoveStage,
  // bigint arrives as a string
  rowsCopied: Number(r.rows_copied ?? 0),
  attempts: r.attempts as number,
  detail: (r.detail ?? {}) as MoveDetail,
  error: (r.error as string | null) ?? null,
});
