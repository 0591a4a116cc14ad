import { FenceHold } from './fence.js';
import type { MoveContext } from './move-context.js';
import {
  createPublication, createSubscription, dropSlots, dropSubscription, slotConfirmed, slotLagBytes, subscriptionStatus, systemIdentifier, type SubscriptionStatus,
} from './replication-ops.js';
import { countDigest, countRows, deleteTenantRows, digestMismatch, digestRows, type TableDigest } from './tenant-rows.js';
import { withAdminClient, type AdminClient } from './admin-client.js';
import type { TenantTable } from './shard-admin-sql.js';
import { schemaMismatch, tenantTables, unmovable } from './tenant-tables.js';

/** A move that cannot go on; the mover rolls it back (before cutover). */
export class MoveError extends Error {
  override readonly name = 'MoveError';
}

const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

/** A subscription that stopped (disable_on_error) or keeps failing never catches up: fail now, not at the timeout. */
async function checkSubscription(ctx: MoveContext): Promise<SubscriptionStatus> {
  const status = await subscriptionStatus(await ctx.target(), ctx.name);
  if (!status) throw new MoveError('the subscription disappeared from the target');
  if (!status.enabled || status.errors > 0) throw new MoveError('the subscription failed on the target (see its server log)');
  return status;
}

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

  // whatever an interrupted earlier attempt of this move left: its subscription, its slots, its rows
  await dropSubscription(target, ctx.name);
  await dropSlots(source, ctx.name, ctx.move.detail.subscriptionOid);
  await deleteTenantRows(target, ctx.move.tenantId, tables);
  await createPublication(source, ctx.name, tables, ctx.move.tenantId);
  const started = performance.now();
  const oid = await createSubscription(target, ctx.name, await ctx.sourceUrl());
  await ctx.update({ detail: { subscriptionOid: oid } });

  let lastCount = 0;
  let reported = 0;
  for (;;) {
    const status = await checkSubscription(ctx);
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

/**
 * catching_up: the subscription streams until its slot is within catchUpBytes of the
 * source's WAL. First, one unfenced pass of the verification reads on both sides: the
 * freshly copied rows get their hint bits set and both sides' pages are cached, so the
 * verification inside the fence (the tenant's write pause) reads hot, clean pages.
 */
export async function catchUp(ctx: MoveContext): Promise<void> {
  const source = await ctx.source();
  const started = performance.now();
  await Promise.all([digestSide(ctx, await ctx.sourceUrl(), source), digestSide(ctx, await ctx.targetUrl(), await ctx.target())]);
  const warmMs = Math.round(performance.now() - started);
  for (;;) {
    await checkSubscription(ctx);
    const behind = await slotLagBytes(source, ctx.name);
    if (behind === undefined) throw new MoveError('the replication slot is gone from the source');
    if (behind <= ctx.timings.catchUpBytes) break;
    if (performance.now() - started > ctx.timings.catchUpTimeoutMs) throw new MoveError(`still ${behind} bytes behind after ${ctx.timings.catchUpTimeoutMs} ms`);
    await ctx.pause(ctx.timings.pollMs);
  }
  await ctx.update({ detail: { catchUpMs: Math.round(performance.now() - started), warmMs } });
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
  for (let polls = 0; !(await slotConfirmed(source, ctx.name, placed.lsn)); polls++) {
    if (polls % 10 === 9) await checkSubscription(ctx);
    if (performance.now() - ctx.fenceStartedAt > ctx.timings.fenceTimeoutMs) {
      throw new MoveError(`the target did not confirm ${placed.lsn} within ${ctx.timings.fenceTimeoutMs} ms of the fence`);
    }
    await ctx.pause(Math.min(ctx.timings.pollMs, 10));
  }
  await ctx.update({ detail: { fenceLsn: placed.lsn, fenceDrainMs: Math.round(placed.drainMs), fenceCatchUpMs: Math.round(performance.now() - fencedAt) } });
}

/** Tables in up to n groups of about equal rows (largest first, each to the lightest group). */
function balance(tables: readonly TenantTable[], rows: Readonly<Record<string, number>>, n: number): TenantTable[][] {
  const groups = Array.from({ length: Math.max(1, Math.min(n, tables.length)) }, () => ({ rows: 0, tables: [] as TenantTable[] }));
  for (const t of [...tables].sort((a, b) => (rows[b.name] ?? 0) - (rows[a.name] ?? 0))) {
    const lightest = groups.reduce((a, b) => (b.rows < a.rows ? b : a));
    lightest.tables.push(t);
    lightest.rows += rows[t.name] ?? 0;
  }
  return groups.map((g) => g.tables).filter((g) => g.length > 0);
}

/** Connections per side for checksums: the tenant's write pause grows with its size, so spread the work. */
const VERIFY_PARALLELISM = 4;

/** One side's digests (checksums, or counts with moves.verify = 'count'), its tables spread over parallel connections. */
async function digestSide(ctx: MoveContext, url: string, first: AdminClient): Promise<Record<string, TableDigest>> {
  const groups = balance(await ctx.tables(), ctx.move.detail.tables ?? {}, VERIFY_PARALLELISM);
  const digest = (c: AdminClient, g: TenantTable[]) => (ctx.timings.verify === 'count' ? countDigest(c, ctx.move.tenantId, g) : digestRows(c, ctx.move.tenantId, g));
  const parts = await Promise.all(groups.map((g, i) => (i === 0 ? digest(first, g) : withAdminClient(url, ctx.timings.admin, 'verify', (c) => digest(c, g)))));
  return Object.assign({}, ...parts) as Record<string, TableDigest>;
}

/**
 * verified: per table, the same row count and checksum on both sides; any difference
 * fails the move. The tenant's rows are frozen on both sides now (fenced source, fully
 * applied target), so tables may be read in parallel, each in a snapshot of its own.
 */
export async function verify(ctx: MoveContext): Promise<void> {
  const [source, target] = await Promise.all([digestSide(ctx, await ctx.sourceUrl(), await ctx.source()), digestSide(ctx, await ctx.targetUrl(), await ctx.target())]);
  const mismatch = digestMismatch(source, target);
  if (mismatch) throw new MoveError(`verification failed: ${mismatch}`);
  const counts = Object.fromEntries(Object.entries(source).map(([t, d]) => [t, d.rows]));
  await ctx.update({ rowsCopied: sum(counts), detail: { tables: counts } });
}
