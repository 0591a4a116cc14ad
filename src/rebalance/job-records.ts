import type { JobKind, JobState, MoveStage } from './move-stage.js';

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
  readonly rowsPerSecond?: number;
  /** where the slot's stream starts: the copy read the rows as of this position */
  readonly slotLsn?: string;
  readonly catchUpMs?: number;
  /** ms of the unfenced warm-up pass of the verification reads */
  readonly warmMs?: number;
  /** ms the source refused the tenant's writes: from taking the fence lock to the placement flip */
  readonly fenceMs?: number;
  /** ms the fence waited for writes already in flight */
  readonly fenceDrainMs?: number;
  /** ms from the fence to the target confirming every write made before it */
  readonly fenceCatchUpMs?: number;
  readonly fenceLsn?: string;
  /** ms the fenced verification (counts and checksums on both sides) took */
  readonly verifyMs?: number;
  readonly pinKept?: boolean;
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

type Row = Record<string, unknown>;

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

/** Where a move's time went (ms), for operators and the benchmark: what is known so far. */
function moveTimings(d: MoveDetail): Record<string, unknown> {
  const pick = { copyMs: d.copyMs, catchUpMs: d.catchUpMs, warmMs: d.warmMs, fenceMs: d.fenceMs, fenceDrainMs: d.fenceDrainMs, fenceCatchUpMs: d.fenceCatchUpMs, verifyMs: d.verifyMs };
  return { ...Object.fromEntries(Object.entries(pick).filter(([, v]) => v !== undefined)), ...(d.stageMs ? { stages: d.stageMs } : {}) };
}

/** GET /admin/jobs/:id */
export function jobView(job: JobRecord, moves: readonly MoveRecord[]) {
  return {
    id: job.id,
    kind: job.kind,
    state: job.state,
    progress: {
      tenantsDone: moves.filter((m) => m.stage === 'done').length,
      tenantsTotal: moves.length,
      rowsCopied: moves.reduce((sum, m) => sum + m.rowsCopied, 0),
    },
    moves: moves.map((m) => ({
      tenant: m.tenantId,
      from: m.source,
      to: m.target,
      stage: m.stage,
      rowsCopied: m.rowsCopied,
      ...(m.detail.fenceMs !== undefined ? { fenceMs: Math.round(m.detail.fenceMs) } : {}),
      ...(m.detail.rowsPerSecond !== undefined ? { rowsPerSecond: Math.round(m.detail.rowsPerSecond) } : {}),
      ...(m.error ? { error: m.error } : {}),
      timings: moveTimings(m.detail),
    })),
    ...(job.error ? { error: job.error } : {}),
    createdAt: job.createdAt.toISOString(),
    updatedAt: job.updatedAt.toISOString(),
  };
}
