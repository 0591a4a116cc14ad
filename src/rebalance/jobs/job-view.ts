import type { JobRecord, MoveDetail, MoveRecord } from '../../catalog/job-rows.js';

/** Where a move's time went (ms), for operators and the benchmark: what is known so far. */
function moveTimings(d: MoveDetail): Record<string, unknown> {
  const pick = { copyMs: d.copyMs, copyYieldMs: d.copyYieldMs, cleanupYieldMs: d.cleanupYieldMs, catchUpMs: d.catchUpMs, baselineMs: d.baselineMs, baselineYieldMs: d.baselineYieldMs, fenceMs: d.fenceMs, fenceDrainMs: d.fenceDrainMs, fenceCatchUpMs: d.fenceCatchUpMs, verifyMs: d.verifyMs, verifiedBy: d.verifiedBy };
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

export type JobView = ReturnType<typeof jobView>;
