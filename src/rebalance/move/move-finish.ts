import { ensureFenceRow, unfence } from '../shard-sql/fence.js';
import type { MoveContext } from './move-context.js';
import type { PlacementChanges } from './placement-changes.js';
import type { StageFindings } from './move-steps.js';
import { dropPublication, dropSlots, dropSubscription } from '../shard-sql/replication-ops.js';
import { deleteTenantRows } from '../shard-sql/tenant-rows.js';
import { tenantTables } from '../shard-sql/tenant-tables.js';
import { stopTracking } from '../shard-sql/change-tracking.js';

/**
 * cutover: the source stays fenced (a stale gateway's write there fails and is retried
 * against the new placement); the target loses any fence an earlier move away from it
 * left; then the catalog places the tenant on the target and every gateway is told.
 */
export async function cutover(ctx: MoveContext, placement: PlacementChanges): Promise<StageFindings> {
  // this run's own fence holds its row already, and a target without a fence row needs no
  // lifting: in a move's usual cutover neither costs a round trip inside the pause
  await Promise.all([
    ctx.fence ? undefined : ensureFenceRow(await ctx.source(), ctx.move.tenantId, ctx.move.id),
    ctx.targetFenced === false ? undefined : unfence(await ctx.target(), ctx.move.tenantId),
  ]);
  // a resumed cutover (another run decided before its fence) decides again
  const decision = ctx.placement ?? (await placement.decide(ctx.move.tenantId, ctx.move.target));
  const { pinned } = await placement.place(decision, `move:${ctx.move.jobId}`);
  const fenceMs = ctx.fenceStartedAt === undefined ? undefined : Math.round(performance.now() - ctx.fenceStartedAt);
  return { detail: { pinKept: pinned, ...(fenceMs !== undefined ? { fenceMs } : {}) } };
}

/**
 * cleanup: no replication object or change tracking outlives the move (dropping the
 * subscription drops its slot on the source; anything left is dropped there directly),
 * then, after a grace period for readers with a stale placement, the tenant's rows leave
 * the source. The source keeps the tenant's fence row as a tombstone: a gateway that never
 * heard of the move still cannot write there (until liftTombstone, past the write lease).
 */
export async function cleanup(ctx: MoveContext): Promise<StageFindings> {
  const target = await ctx.target();
  await dropSubscription(target, ctx.name);
  const source = await ctx.source();
  await Promise.all([stopTracking(source, ctx.move.tenantId, ctx.move.id), stopTracking(target, ctx.move.tenantId, ctx.move.id)]);
  await dropPublication(source, ctx.name);
  await dropSlots(source, ctx.name, ctx.move.detail.subscriptionOid);
  await ctx.pause(ctx.timings.cleanupGraceMs);
  const governor = await ctx.governor('source');
  await deleteTenantRows(source, ctx.move.tenantId, await ctx.tables(), () => governor.pace());
  await ensureFenceRow(source, ctx.move.tenantId, ctx.move.id);
  await ctx.fence?.release();
  ctx.fence = undefined;
  return { detail: { tombstone: 'kept', cleanupYieldMs: Math.round(governor.waitedMs) } };
}

/**
 * Lifts a finished move's tombstone on its source, once no gateway can still hold the
 * placement from before the flip (the write lease plus a margin have passed: a gateway
 * that could not confirm its placement since refuses writes). Only this move's fence row
 * goes: a later move's fence or tombstone on that shard is left alone.
 */
export async function liftTombstone(ctx: MoveContext): Promise<void> {
  await unfence(await ctx.source(), ctx.move.tenantId, ctx.move.id);
  await ctx.update({ detail: { tombstone: 'removed' } });
}

/** Drops the move's subscription on the target and, when `rows`, the tenant's copied rows; what failed, described. */
async function clearTarget(ctx: MoveContext, rows: boolean): Promise<string[]> {
  try {
    const target = await ctx.target();
    await dropSubscription(target, ctx.name);
    await stopTracking(target, ctx.move.tenantId, ctx.move.id);
    if (rows) await deleteTenantRows(target, ctx.move.tenantId, await tenantTables(target));
    return [];
  } catch (err) {
    return [`target ${ctx.move.target}: subscription ${ctx.name}, change tracking or copied rows (${(err as Error).message})`];
  }
}

/** Drops the move's publication and slots on the source, then lifts the fence (`moveId`: only that move's); what failed, described. */
async function clearSource(ctx: MoveContext, moveId: string | undefined): Promise<string[]> {
  const leftovers: string[] = [];
  try {
    const source = await ctx.source();
    await dropPublication(source, ctx.name);
    await dropSlots(source, ctx.name, ctx.move.detail.subscriptionOid);
    await stopTracking(source, ctx.move.tenantId, ctx.move.id);
  } catch (err) {
    leftovers.push(`source ${ctx.move.source}: publication, slot or change tracking ${ctx.name} (${(err as Error).message})`);
  }
  try {
    await unfence(await ctx.source(), ctx.move.tenantId, moveId);
  } catch (err) {
    leftovers.push(`source ${ctx.move.source}: fence of ${ctx.move.tenantId} (${(err as Error).message})`);
  }
  return leftovers;
}

/**
 * Undoes a move that has not reached cutover: the tenant ends where it started, writable,
 * with no subscription, publication, slot or copied row left. Each side is cleaned
 * independently so one unreachable server does not leave the other dirty; what could not
 * be removed is returned.
 */
export async function rollback(ctx: MoveContext): Promise<string[]> {
  await ctx.reset(); // the failure may have broken a connection
  const leftovers = [...(await clearTarget(ctx, true)), ...(await clearSource(ctx, undefined))];
  await ctx.fence?.release();
  ctx.fence = undefined;
  return leftovers;
}

/**
 * Retries what a failed move's rollback could not remove, long after: replication objects
 * carry the move's name and its fence row the move's id, so removing them is always safe;
 * copied rows on the target only while the tenant is neither placed there nor moving.
 */
export async function sweep(ctx: MoveContext, targetHoldsTenant: boolean): Promise<string[]> {
  return [...(await clearTarget(ctx, !targetHoldsTenant)), ...(await clearSource(ctx, ctx.move.id))];
}
