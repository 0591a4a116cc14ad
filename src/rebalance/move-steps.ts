import { FenceHold } from './fence.js';
import type { MoveContext } from './move-context.js';
import {
  createPublication, createSubscription, dropSubscription, slotConfirmed, slotLagBytes, subscriptionStatus, systemIdentifier,
} from './replication-ops.js';
import { countRows, deleteTenantRows, digestMismatch, digestRows } from './tenant-rows.js';
import { schemaMismatch, tenantTables, unmovable } from './tenant-tables.js';

/** A move that cannot go on; the mover rolls it back (before cutover). */
export class MoveError extends Error {
  override readonly name = 'MoveError';
}

const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

/**
 * copying: publication (the tenant's rows of every tenant table) on the source, the
 * target emptied of anything an earlier attempt left, subscription with copy_data on the
 * target; done when every table's sync state is r(eady).
 */
export async function copy(ctx: MoveContext, migrateTarget: () => Promise<void>, onRows: (n: number) => void): Promise<void> {
  const source = await ctx.source();
  const target = await ctx.target();
  if ((await systemIdentifier(source)) === (await systemIdentifier(target))) {
    throw new MoveError('source and target are databases of one PostgreSQL server; a subscription there would hang creating its slot');
  }
  await migrateTarget();
  await source.query('SELECT public.shardgate_apply_fence_triggers()');
  const tables = await ctx.tables();
  const problem = unmovable(tables) ?? schemaMismatch(tables, await tenantTables(target));
  if (problem) throw new MoveError(problem);

  await dropSubscription(target, ctx.name);
  await deleteTenantRows(target, ctx.move.tenantId, tables);
  await createPublication(source, ctx.name, tables, ctx.move.tenantId);
  const started = performance.now();
  const oid = await createSubscription(target, ctx.name, await ctx.sourceUrl());
  await ctx.update({ detail: { subscriptionOid: oid } });

  let lastCount = 0;
  let reported = 0;
  for (;;) {
    const status = await subscriptionStatus(target, ctx.name);
    if (!status) throw new MoveError('the subscription disappeared from the target');
    if (!status.enabled || status.errors > 0) throw new MoveError('the subscription failed on the target (see its server log)');
    const ready = status.states.r ?? 0;
    const elapsed = performance.now() - started;
    if (ready === tables.length || elapsed - lastCount > 1000) {
      lastCount = elapsed;
      const counts = await countRows(target, ctx.move.tenantId, tables);
      const rows = sum(counts);
      if (rows > reported) onRows(rows - reported);
      reported = Math.max(reported, rows);
      const done = ready === tables.length;
      const seconds = Math.max(elapsed, 1) / 1000;
      await ctx.update({ rowsCopied: rows, detail: { tables: counts, ...(done ? { copyMs: Math.round(elapsed), rowsPerSecond: rows / seconds } : {}) } });
      if (done) return;
    }
    if (elapsed > ctx.timings.copyTimeoutMs) throw new MoveError(`the initial copy took longer than ${ctx.timings.copyTimeoutMs} ms`);
    await ctx.pause(ctx.timings.pollMs);
  }
}

/** catching_up: the subscription streams until its slot is within catchUpBytes of the source's WAL. */
export async function catchUp(ctx: MoveContext): Promise<void> {
  const source = await ctx.source();
  const started = performance.now();
  for (;;) {
    const behind = await slotLagBytes(source, ctx.name);
    if (behind === undefined) throw new MoveError('the replication slot is gone from the source');
    if (behind <= ctx.timings.catchUpBytes) break;
    if (performance.now() - started > ctx.timings.catchUpTimeoutMs) throw new MoveError(`still ${behind} bytes behind after ${ctx.timings.catchUpTimeoutMs} ms`);
    await ctx.pause(ctx.timings.pollMs);
  }
  await ctx.update({ detail: { catchUpMs: Math.round(performance.now() - started) } });
}

/**
 * fenced: the source refuses the tenant's writes from here on (writes in flight finish
 * first); then wait until the target has confirmed the source's WAL position after the
 * fence, so it holds every write the source ever accepted for the tenant.
 */
export async function fence(ctx: MoveContext): Promise<void> {
  const source = await ctx.source();
  const placed = await FenceHold.place(await ctx.sourceUrl(), ctx.timings.admin, ctx.move.tenantId, ctx.move.id, ctx.timings.fenceTimeoutMs);
  ctx.fence = placed.hold;
  ctx.fenceStartedAt = placed.fencedFrom;
  const fencedAt = performance.now();
  while (!(await slotConfirmed(source, ctx.name, placed.lsn))) {
    if (performance.now() - ctx.fenceStartedAt > ctx.timings.fenceTimeoutMs) {
      throw new MoveError(`the target did not confirm ${placed.lsn} within ${ctx.timings.fenceTimeoutMs} ms of the fence`);
    }
    await ctx.pause(Math.min(ctx.timings.pollMs, 10));
  }
  await ctx.update({ detail: { fenceLsn: placed.lsn, fenceDrainMs: Math.round(placed.drainMs), fenceCatchUpMs: Math.round(performance.now() - fencedAt) } });
}

/** verified: per table, the same row count and checksum on both sides; any difference fails the move. */
export async function verify(ctx: MoveContext): Promise<void> {
  const tables = await ctx.tables();
  const [source, target] = await Promise.all([digestRows(await ctx.source(), ctx.move.tenantId, tables), digestRows(await ctx.target(), ctx.move.tenantId, tables)]);
  const mismatch = digestMismatch(source, target);
  if (mismatch) throw new MoveError(`verification failed: ${mismatch}`);
  const counts = Object.fromEntries(Object.entries(source).map(([t, d]) => [t, d.rows]));
  await ctx.update({ rowsCopied: sum(counts), detail: { tables: counts } });
}
