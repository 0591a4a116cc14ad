import { FenceHold, hasFence } from '../shard-sql/fence.js';
import type { PlacementChanges } from './placement-changes.js';
import type { MoveContext } from './move-context.js';
import type { MovePatch } from '../../catalog/job-rows.js';
import {
  createPublication, createSubscription, dropSlots, dropSubscription, flushTarget, streamLagBytes, subscriptionReceived, subscriptionStatus, systemIdentifier, type SubscriptionStatus,
} from '../shard-sql/replication-ops.js';
import { countDigest, deleteTenantRows, digestMismatch, digestRows, type SnapshotDigest, type TableDigest } from '../shard-sql/tenant-rows.js';
import { advance, awaitUntracked, deltasSince, startTracking } from '../shard-sql/change-tracking.js';
import type { LoadGovernor } from './load-governor.js';
import type { AdminClient } from '../shard-sql/admin-client.js';
import { closeCopyLanes, copySnapshot, createExportedSlot, openCopyLanes } from '../shard-sql/snapshot-copy.js';
import type { TenantTable } from '../shard-sql/shard-admin-sql.js';
import { schemaMismatch, tenantTables, unmovable } from '../shard-sql/tenant-tables.js';

/** A move that cannot go on; the mover rolls it back (before cutover). */
export class MoveError extends Error {
  override readonly name = 'MoveError';
}

/** What a stage learnt, persisted with the move's next stage (not a write of its own). */
export type StageFindings = Omit<MovePatch, 'stage' | 'attempt' | 'error'>;

const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

/** A subscription that stopped (disable_on_error) or keeps failing never catches up: fail now, not at the timeout. */
async function checkSubscription(ctx: MoveContext): Promise<SubscriptionStatus> {
  const status = await subscriptionStatus(await ctx.target(), ctx.name);
  if (!status) throw new MoveError('the subscription disappeared from the target');
  if (!status.enabled || status.errors > 0) throw new MoveError('the subscription failed on the target (see its server log)');
  return status;
}

/** How long a move waits for a schema change rolling out to reach both of its shards. */
const SCHEMA_WAIT_MS = 10 * 60_000;

/**
 * A schema change rolls out one shard at a time, and rows copied between shards a version
 * apart could lack a column the target has (or carry one it has not): while a change still
 * rolling out has reached one of the two shards and not the other, the move waits. The
 * target has just caught up on every change that succeeded; any other difference is the
 * table check's to find (copy refuses tables whose columns differ).
 */
async function sameSchemaChanges(ctx: MoveContext, source: AdminClient, target: AdminClient, rollingOut: () => Promise<readonly string[]>): Promise<void> {
  const applied = async (client: AdminClient) => new Set((await client.query<{ id: string }>('SELECT id::text FROM shardgate_schema_changes')).rows.map((r) => r.id));
  const deadline = performance.now() + SCHEMA_WAIT_MS;
  for (;;) {
    const [s, t] = [await applied(source), await applied(target)];
    const apart = (await rollingOut()).filter((id) => s.has(id) !== t.has(id));
    if (apart.length === 0) return;
    if (performance.now() > deadline) throw new MoveError(`schema change ${apart[0]} has reached one of the two shards and not the other: retry the move when it has finished`);
    await ctx.pause(1000);
  }
}

/** What copying needs of the fleet's schema: the target caught up, and the changes still rolling out. */
export interface CopySchema {
  readonly readyTarget: () => Promise<void>;
  readonly rollingOut: () => Promise<readonly string[]>;
}

/**
 * copying: publication (the tenant's rows of every tenant table) on the source, the
 * target emptied of anything an earlier attempt left; then the move's slot is created
 * with an exported snapshot, the tenant's rows as of that snapshot are copied in batches
 * (at most moves.copyRowsPerSecond), and the subscription starts streaming from the slot:
 * everything committed after the snapshot, nothing twice.
 */
export async function copy(ctx: MoveContext, schema: CopySchema, onRows: (n: number) => void): Promise<void> {
  const source = await ctx.source();
  const target = await ctx.target();
  if ((await systemIdentifier(source)) === (await systemIdentifier(target))) {
    throw new MoveError('source and target are databases of one PostgreSQL server; a subscription there would hang creating its slot');
  }
  await schema.readyTarget();
  await sameSchemaChanges(ctx, source, target, schema.rollingOut);
  await source.query('SELECT public.shardgate_apply_fence_triggers()');
  const tables = await ctx.tables();
  const problem = unmovable(tables) ?? schemaMismatch(tables, await tenantTables(target));
  if (problem) throw new MoveError(problem);

  // whatever an interrupted earlier attempt of this move left: its subscription, its slots, its rows
  await dropSubscription(target, ctx.name);
  await dropSlots(source, ctx.name, ctx.move.detail.subscriptionOid);
  await deleteTenantRows(target, ctx.move.tenantId, tables);
  // the publication first: the slot decodes with the catalog as of its start, so it must already see it
  await createPublication(source, ctx.name, tables, ctx.move.tenantId);

  const sourceUrl = await ctx.sourceUrl();
  const targetUrl = await ctx.targetUrl();
  const governor = await ctx.governor('both');
  const started = performance.now();
  const slot = await createExportedSlot(sourceUrl, ctx.timings.admin, ctx.name);
  const lanes = await openCopyLanes(slot, sourceUrl, targetUrl, ctx.timings.admin, ctx.timings.copyLanes);
  const done: Record<string, number> = {};
  let reportedAt = started;
  let reported = 0;
  let counts: Record<string, number>;
  try {
    counts = await copySnapshot(lanes, ctx.move.tenantId, tables, {
      batchRows: ctx.timings.copyBatchRows,
      rowsPerSecond: ctx.timings.copyRowsPerSecond,
      pause: (ms) => ctx.pause(ms),
      onBatch: async (table, rows) => {
        // lanes report one table's running total each, possibly out of order
        done[table] = Math.max(done[table] ?? 0, rows);
        const now = performance.now();
        const all = sum(done);
        onRows(all - reported);
        reported = all;
        if (now - started > ctx.timings.copyTimeoutMs) throw new MoveError(`the initial copy took longer than ${ctx.timings.copyTimeoutMs} ms`);
        // progress for GET /admin/jobs/:id, about once a second
        if (now - reportedAt >= 1000) {
          reportedAt = now;
          await ctx.update({ rowsCopied: all, detail: { tables: { ...done } } });
        }
        // the lane holds here (backpressure to the source) while the shards are under pressure
        await governor.pace();
      },
    });
  } finally {
    await closeCopyLanes(lanes);
  }
  const copyMs = performance.now() - started;
  const rows = sum(counts);
  await ctx.update({
    rowsCopied: rows,
    detail: { tables: counts, slotLsn: slot.lsn, copyMs: Math.round(copyMs), copyYieldMs: Math.round(governor.waitedMs), rowsPerSecond: Math.round(rows / (Math.max(copyMs, 1) / 1000)) },
  });

  // both sides track the tenant's changes from here (the target's before anything is applied)
  const [sourceOpen, targetOpen] = await Promise.all([startTracking(source, ctx.move.tenantId, ctx.move.id), startTracking(target, ctx.move.tenantId, ctx.move.id)]);
  ctx.untracked = { source: sourceOpen, target: targetOpen };
  const oid = await createSubscription(target, ctx.name, sourceUrl);
  await ctx.update({ detail: { subscriptionOid: oid } });
  await checkSubscription(ctx);
}

/** How long the baseline waits for transactions older than tracking; past it, the fence verifies in full. */
const UNTRACKED_WAIT_MS = 10_000;

/**
 * catching_up: first the baseline of the verification, unfenced: once every transaction
 * older than the change tracking has ended, each side's checksums on a snapshot (the
 * fenced verification adds only what changed since). Then the subscription streams until
 * the target has received the source's WAL to within catchUpBytes (measured on the
 * target: a subscription whose apply worker has not started yet — the launcher starts at
 * most one every wal_retrieve_retry_interval — has received nothing and is not caught up,
 * however idle the source).
 */
export async function catchUp(ctx: MoveContext): Promise<void> {
  const source = await ctx.source();
  const target = await ctx.target();
  const started = performance.now();
  const open = ctx.untracked;
  const tracked = open !== undefined && (await Promise.all([
    awaitUntracked(source, open.source, UNTRACKED_WAIT_MS, (ms) => ctx.pause(ms)),
    awaitUntracked(target, open.target, UNTRACKED_WAIT_MS, (ms) => ctx.pause(ms)),
  ])).every(Boolean);
  if (!tracked) ctx.logger.warn('transactions older than the change tracking are still open: the fence will verify every row');
  const governor = await ctx.governor('both');
  const [sourceBase, targetBase] = await Promise.all([baselineSide(ctx, source, governor), baselineSide(ctx, target, governor)]);
  ctx.baseline = tracked ? { source: sourceBase, target: targetBase } : undefined;
  const baselineMs = Math.round(performance.now() - started);
  for (;;) {
    await checkSubscription(ctx);
    const behind = await streamLagBytes(source, target, ctx.name);
    if (behind <= ctx.timings.catchUpBytes) break;
    if (performance.now() - started > ctx.timings.catchUpTimeoutMs) {
      throw new MoveError(Number.isFinite(behind) ? `still ${behind} bytes behind after ${ctx.timings.catchUpTimeoutMs} ms` : `the subscription received nothing in ${ctx.timings.catchUpTimeoutMs} ms`);
    }
    await ctx.pause(ctx.timings.pollMs);
  }
  await ctx.update({ detail: { catchUpMs: Math.round(performance.now() - started), baselineMs, baselineYieldMs: Math.round(governor.waitedMs) } });
}

/**
 * fenced: the source refuses the tenant's writes from here on (writes in flight finish
 * first); then wait until the target has received (so applied) the source's WAL up to
 * the fence, and flush the target's WAL: it durably holds every write the source ever
 * accepted for the tenant.
 */
export async function fence(ctx: MoveContext, placement: PlacementChanges): Promise<StageFindings> {
  const target = await ctx.target();
  // read now, not inside the pause: the ring (the flip is then one catalog statement), and
  // whether the target keeps a fence an earlier move away from it left (none can appear
  // meanwhile: one move per tenant at a time)
  ctx.placement = await placement.decide(ctx.move.tenantId, ctx.move.target);
  ctx.targetFenced = await hasFence(target, ctx.move.tenantId);
  const placed = await FenceHold.place(await ctx.sourceUrl(), ctx.timings.admin, ctx.move.tenantId, ctx.move.id, ctx.timings.fenceTimeoutMs);
  ctx.fence = placed.hold;
  ctx.fenceStartedAt = placed.fencedFrom;
  const fencedAt = performance.now();
  for (let polls = 0; !(await subscriptionReceived(target, ctx.name, placed.lsn)); polls++) {
    if (polls % 20 === 19) await checkSubscription(ctx);
    if (performance.now() - ctx.fenceStartedAt > ctx.timings.fenceTimeoutMs) {
      throw new MoveError(`the target did not receive ${placed.lsn} within ${ctx.timings.fenceTimeoutMs} ms of the fence`);
    }
    await ctx.pause(FENCE_POLL_MS);
  }
  await flushTarget(target);
  return { detail: { fenceLsn: placed.lsn, fenceDrainMs: Math.round(placed.drainMs), fenceCatchUpMs: Math.round(performance.now() - fencedAt) } };
}

/** ms between looks at the target while fenced: the tenant's writes wait meanwhile. */
const FENCE_POLL_MS = 2;

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
/** Rows one connection checksums before another is worth its round trip (a small tenant: one statement a side). */
const VERIFY_ROWS_PER_CONNECTION = 25_000;

/** One side's digests (checksums, or counts with moves.verify = 'count'), its tables spread over parallel connections. */
async function digestSide(ctx: MoveContext, side: 'source' | 'target'): Promise<Record<string, SnapshotDigest>> {
  const rows = ctx.move.detail.tables ?? {};
  const groups = balance(await ctx.tables(), rows, Math.min(VERIFY_PARALLELISM, Math.ceil(sum(rows) / VERIFY_ROWS_PER_CONNECTION)));
  const clients = await ctx.connections(side, groups.length);
  const digest = (c: AdminClient, g: TenantTable[]) => (ctx.timings.verify === 'count' ? countDigest(c, ctx.move.tenantId, g) : digestRows(c, ctx.move.tenantId, g));
  const parts = await Promise.all(groups.map((g, i) => digest(clients[i]!, g)));
  return Object.assign({}, ...parts) as Record<string, SnapshotDigest>;
}

/**
 * One side's baseline: table by table on the stage's own connection, yielding between
 * tables (outside the fence nothing hurries it, and parallel scans on both shards are what
 * the neighbours would feel); each table's digest keeps its own snapshot.
 */
async function baselineSide(ctx: MoveContext, client: AdminClient, governor: LoadGovernor): Promise<Record<string, SnapshotDigest>> {
  const out: Record<string, SnapshotDigest> = {};
  for (const t of await ctx.tables()) {
    Object.assign(out, ctx.timings.verify === 'count' ? await countDigest(client, ctx.move.tenantId, [t]) : await digestRows(client, ctx.move.tenantId, [t]));
    await governor.pace();
  }
  return out;
}

/** One side's digests now: its baseline plus the changes tracked since, or (no baseline) every row again. */
async function digestNow(ctx: MoveContext, side: 'source' | 'target', baseline: Record<string, SnapshotDigest> | undefined): Promise<Record<string, TableDigest>> {
  if (!baseline) return digestSide(ctx, side);
  const client = side === 'source' ? await ctx.source() : await ctx.target();
  return advance(baseline, await deltasSince(client, ctx.move.tenantId, baseline));
}

/**
 * verified: per table, the same row count and checksum on both sides; any difference
 * fails the move. The tenant's rows are frozen on both sides now (fenced source, fully
 * applied target): each side's checksums are its baseline's plus the deltas of the
 * changes that baseline's snapshot did not see — work in the changes since, not in the
 * tenant's size. Without a baseline, every row is read again.
 */
export async function verify(ctx: MoveContext): Promise<StageFindings> {
  const started = performance.now();
  const base = ctx.baseline;
  const [source, target] = await Promise.all([digestNow(ctx, 'source', base?.source), digestNow(ctx, 'target', base?.target)]);
  const mismatch = digestMismatch(source, target);
  if (mismatch) throw new MoveError(`verification failed: ${mismatch}`);
  // the tenant's writes wait out the fence (up to the same bound): past it, give the tenant back
  const fencedFor = ctx.fenceStartedAt === undefined ? 0 : performance.now() - ctx.fenceStartedAt;
  if (fencedFor > ctx.timings.fenceTimeoutMs) {
    throw new MoveError(`verified ${Math.round(fencedFor)} ms into the fence, past moves.fenceTimeoutMs (${ctx.timings.fenceTimeoutMs}); raise it, or use moves.verify = 'count', for a tenant this size`);
  }
  const counts = Object.fromEntries(Object.entries(source).map(([t, d]) => [t, d.rows]));
  return { rowsCopied: sum(counts), detail: { tables: counts, verifyMs: Math.round(performance.now() - started), verifiedBy: base ? 'deltas' : 'rows' } };
}
