/**
 * The tenant-move scenario (issue 8, item 4): rows copied per second, the moving tenant's
 * write pause, and other tenants' p99 during moves against their p99 just before. Moves go
 * through the admin API only (POST /admin/tenants/:id/move, GET /admin/jobs/:id), so the
 * scenario measures whatever mover the gateway runs. See README "Performance".
 */
import type { Seed } from './seed.js';
import { request } from './http.js';
import { pacedLoops, type LoopRequest, type Loops } from './move-load.js';
import { runMove, serverTimings, type MoveRun, type ServerTimings } from './move-job.js';
import { ensureMoveTenants, placements, type MoveTenant } from './move-tenants.js';
import { pgCopyProbe, type PgCopyProbe } from './pg-copy-probe.js';
import { latenciesIn, latency, longestGap, ok, percentile, round, slowestOverlapping, within, type Sample, type Window } from './move-stats.js';

export interface MoveSettings {
  readonly smoke: boolean;
  /** small tenants moved for the pause measurements */
  readonly smallTenants: number;
  readonly smallRows: number;
  /** the tenant whose copy gives rows/s; 0: none (rows/s then comes from the small moves) */
  readonly bigRows: number;
}

export interface MoveEnv {
  readonly tenantUrl: string;
  readonly adminUrl: string;
  readonly adminToken: string;
  readonly catalog: string;
  /** the cluster's shard ids, in the order moves rotate through them */
  readonly shards: readonly string[];
  /** each shard primary's privileged URL (the COPY probe runs on a move's target) */
  readonly adminUrls: ReadonlyMap<string, string>;
  readonly seed: Seed;
  readonly say: (text: string) => void;
}

/** One move, as the report shows it. */
export interface MoveSample {
  readonly tenant: string;
  readonly rows: number;
  readonly from: string;
  readonly to: string;
  readonly state: MoveRun['state'];
  readonly error?: string;
  /** POST to job finished, as the client saw it */
  readonly total_ms: number;
  readonly rows_copied: number;
  /** the job's own copy rate (rows over the copy stage) */
  readonly rows_per_s: number | null;
  /** server-side: from the fence lock to the placement flip (job JSON) */
  readonly fence_ms: number | null;
  /**
   * client-side: the larger of the two below. A fenced write that waits shows as a slow
   * write; one refused (503 after the gateway's wait) as a gap: either way the client paused.
   */
  readonly write_pause_ms: number | null;
  /** client-side: the slowest write of the tenant that overlapped the move */
  readonly slowest_write_ms: number | null;
  /** client-side: the longest stretch of the move in which none of the tenant's writes succeeded */
  readonly write_gap_ms: number;
  /** the tenant's write p99 in the quiet window before the move: what a pause compares to */
  readonly write_p99_before_ms: number | null;
  /** the tenant's writes from its quiet window to the move's end */
  readonly writes: number;
  readonly writes_during_move: number;
  /** writes answered non-2xx or not at all, by status (0: no answer) */
  readonly write_errors: Readonly<Record<string, number>>;
  /** writers whose last acknowledged write was not readable afterwards */
  readonly lost_writes: number;
  readonly others_p99_before_ms: number | null;
  readonly others_p99_during_ms: number | null;
  /** ms after the POST at which each stage was first seen in the job JSON */
  readonly stages_seen_ms: Readonly<Record<string, number>>;
  /** the neighbours' p99 while each stage ran (as the bench's polling saw the stages): where a move hurts them */
  readonly others_p99_by_stage_ms: Readonly<Record<string, number | null>>;
  /** the mover's own timings (tenant_moves.detail), when the catalog could be read */
  readonly server?: ServerTimings;
}

export interface MoveResult {
  /** copy rate of the big tenant's move(s) per the job JSON (median); smoke: of the small moves */
  readonly rows_per_s: number | null;
  readonly rows_per_s_from: string;
  /** PostgreSQL's own COPY of the same rows into like tables on the same target (bench/pg-copy-probe.ts) */
  readonly pg_copy_rows_per_s: number | null;
  /** rows_per_s / pg_copy_rows_per_s: the mover against PostgreSQL's fastest load (target ≥ 1.0) */
  readonly copy_vs_pg_copy: number | null;
  readonly pg_copy_tables: PgCopyProbe['tables'] | null;
  readonly write_pause_p50_ms: number | null;
  readonly write_pause_p99_ms: number | null;
  readonly write_pause_max_ms: number | null;
  readonly write_gap_p99_ms: number | null;
  readonly fence_ms_p50: number | null;
  readonly fence_ms_p99: number | null;
  readonly fence_ms_max: number | null;
  /** other tenants on the moves' source and target shards: p99 while a move ran / p99 in the quiet windows before */
  readonly others_p99_ratio: number | null;
  readonly others_p99_before_ms: number | null;
  readonly others_p99_during_ms: number | null;
  readonly others_requests_before: number;
  readonly others_requests_during: number;
  readonly others_errors: number;
  readonly moves_failed: number;
  readonly writes: number;
  readonly write_errors: number;
  readonly lost_writes: number;
  readonly load: string;
  readonly moves: readonly MoveSample[];
}

/** Others' load and the moving tenant's writers: offered rates, not flat out (bench/move-load.ts). */
const LOAD = {
  full: { otherWorkers: 12, otherIntervalMs: 40, firstQuietMs: 10_000, moveTimeoutMs: 10 * 60_000 },
  smoke: { otherWorkers: 4, otherIntervalMs: 40, firstQuietMs: 1_000, moveTimeoutMs: 90_000 },
};
const WRITERS = 4;
const WRITER_INTERVAL_MS = 40;
/** quiet windows as long as the move before them, within these bounds */
const QUIET_MIN_MS = 1_000;
const QUIET_MAX_MS = 20_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const auth = (apiKey: string) => ({ authorization: `Bearer ${apiKey}` });
const JSON_HEADERS = { 'content-type': 'application/json' };

/**
 * Steady mixed load on every seed tenant (none of them moves): 90% point reads, 10%
 * updates, each sample tagged with its tenant's shard, so each move is compared only
 * against the tenants sharing its source and target.
 */
function othersLoad(env: MoveEnv, shardOf: ReadonlyMap<string, string>, workers: number, intervalMs: number): Loops {
  let state = 0x2545f491;
  const rand = (n: number) => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % n;
  };
  const tenants = env.seed.tenants;
  let n = 0;
  return pacedLoops(env.tenantUrl, workers, intervalMs, (): LoopRequest => {
    const t = tenants[rand(tenants.length)]!;
    const productId = t.productIds[rand(t.productIds.length)]!;
    const shard = shardOf.get(t.id)!;
    if (++n % 10 === 0) {
      return { method: 'PATCH', path: `/v1/products/${productId}`, headers: { ...auth(t.apiKey), ...JSON_HEADERS }, body: JSON.stringify({ stock: 1_000_000 + n }), shard };
    }
    return { method: 'GET', path: `/v1/products/${productId}`, headers: auth(t.apiKey), shard };
  });
}

/**
 * The moving tenant's writers: updates (each writer its own products, stock set to a
 * counter), not creates, so the tenant grows only by its audit rows run after run, and
 * the last acknowledged value of each writer can be checked after the move.
 */
function writers(env: MoveEnv, t: MoveTenant): Loops {
  return pacedLoops(env.tenantUrl, WRITERS, WRITER_INTERVAL_MS, (w, i) => ({
    method: 'PATCH',
    path: `/v1/products/${t.productIds[(w + WRITERS * i) % t.productIds.length]!}`,
    headers: { ...auth(t.apiKey), ...JSON_HEADERS },
    body: JSON.stringify({ stock: w * 10_000_000 + i }),
  }));
}

/** Writers whose last acknowledged write cannot be read back (replica lag allowed for a few seconds). */
async function lostWrites(env: MoveEnv, t: MoveTenant, loops: Loops): Promise<number> {
  let lost = 0;
  for (let w = 0; w < WRITERS; w++) {
    const last = loops.lastAcked(w);
    if (last?.body === undefined) continue;
    const expected = (JSON.parse(last.body) as { stock: number }).stock;
    let seen: unknown;
    for (let tries = 0; tries < 30 && seen !== expected; tries++) {
      if (tries > 0) await sleep(100);
      const res = await request('GET', env.tenantUrl + last.path, auth(t.apiKey));
      seen = res.status === 200 ? (res.body as { stock?: unknown }).stock : `HTTP ${res.status}`;
    }
    if (seen !== expected) {
      lost++;
      console.log(`bench: move: ${t.id}: writer ${w}'s last acknowledged write (stock ${expected}) reads back as ${String(seen)}`);
    }
  }
  return lost;
}

function errorsByStatus(samples: readonly Sample[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples) if (!ok(s)) out[String(s.status)] = (out[String(s.status)] ?? 0) + 1;
  return out;
}

const count = (m: Readonly<Record<string, number>>) => Object.values(m).reduce((a, b) => a + b, 0);

interface Planned {
  readonly tenant: MoveTenant;
  readonly from: string;
  readonly to: string;
}

interface Measured extends Planned {
  readonly run: MoveRun;
  readonly quiet: Window;
  readonly writes: readonly Sample[];
  readonly lost: number;
}

export async function moveScenario(env: MoveEnv, settings: MoveSettings): Promise<MoveResult> {
  const load = settings.smoke ? LOAD.smoke : LOAD.full;
  const target = { tenantUrl: env.tenantUrl, adminUrl: env.adminUrl, adminToken: env.adminToken };
  const movers = await ensureMoveTenants(env.catalog, settings.smallTenants, settings.smallRows, settings.bigRows, target);
  const all = [...movers.small, ...(movers.big ? [movers.big] : [])];
  const shardOf = await placements(target, [...env.seed.tenants.map((t) => t.id), ...all.map((t) => t.id)]);
  // each run moves every tenant one shard on: repeated runs spread them evenly
  const plan: Planned[] = all.map((tenant) => {
    const from = shardOf.get(tenant.id)!;
    const i = env.shards.indexOf(from);
    return { tenant, from, to: env.shards[(i + 1) % env.shards.length]! };
  });

  const others = othersLoad(env, shardOf, load.otherWorkers, load.otherIntervalMs);
  const measured: Measured[] = [];
  try {
    // connections and the gateway's pools warm, outside every window
    await sleep(1_000);
    let quietMs = load.firstQuietMs;
    for (const p of plan) {
      const w = writers(env, p.tenant);
      let run: MoveRun;
      let quiet: Window;
      try {
        const from = performance.now();
        await sleep(quietMs);
        quiet = { from, to: performance.now() };
        run = await runMove(target, p.tenant.id, p.to, load.moveTimeoutMs);
      } finally {
        await w.stop();
      }
      const lost = run.state === 'succeeded' ? await lostWrites(env, p.tenant, w) : 0;
      measured.push({ ...p, run, quiet, writes: w.samples, lost });
      const ms = run.window.to - run.window.from;
      env.say(`move ${p.tenant.id} (${p.tenant.rows} rows) ${p.from} → ${p.to}: ${run.state} in ${(ms / 1000).toFixed(1)} s, fence ${run.fenceMs ?? 'n/a'} ms, slowest write ${round(slowestOverlapping(w.samples, run.window), 0) ?? 'n/a'} ms, no write for ${round(longestGap(w.samples, run.window), 0)} ms${run.error ? `: ${run.error}` : ''}`);
      quietMs = Math.min(QUIET_MAX_MS, Math.max(QUIET_MIN_MS, ms));
    }
  } finally {
    await others.stop();
  }
  const timings = await serverTimings(env.catalog, measured.flatMap((m) => (m.run.jobId ? [m.run.jobId] : [])));
  // the rate's own tenant (the big one, else the last small one), on the target it was copied to, the load stopped
  const rated = [...measured].reverse().find((m) => m.run.state === 'succeeded' && (!movers.big || m.tenant.id === movers.big.id));
  const probeUrl = rated === undefined ? undefined : env.adminUrls.get(rated.to);
  const probe = rated && probeUrl ? await pgCopyProbe(probeUrl, rated.tenant.id).catch((err: unknown) => (env.say(`copy probe failed: ${(err as Error).message}`), undefined)) : undefined;
  if (probe) env.say(`PostgreSQL's COPY of the same ${probe.rows} rows on ${rated!.to}: ${probe.rows_per_s} rows/s (${JSON.stringify(probe.tables)})`);
  return summarize(measured, others.samples, timings, movers.big, settings, load, probe);
}

/** `measure` over each stage's window: from when it was first seen to when the next one was (the last to the move's end). */
function byStage(seen: Readonly<Record<string, number>>, move: Window, measure: (w: Window) => number | null): Record<string, number | null> {
  const stages = Object.entries(seen).sort((a, b) => a[1] - b[1]);
  return Object.fromEntries(
    stages.map(([stage, at], i) => [stage, measure({ from: move.from + at, to: i + 1 < stages.length ? move.from + stages[i + 1]![1] : move.to })]),
  );
}

function sampleOf(m: Measured, others: readonly Sample[], timings: ReadonlyMap<string, ServerTimings>): MoveSample {
  const moving = m.run.window;
  const shared = (s: Sample) => s.shard === m.from || s.shard === m.to;
  const errors = errorsByStatus(m.writes);
  const server = m.run.jobId === undefined ? undefined : timings.get(m.run.jobId);
  const slowest = slowestOverlapping(m.writes, moving);
  const gap = longestGap(m.writes, moving);
  return {
    tenant: m.tenant.id,
    rows: m.tenant.rows,
    from: m.from,
    to: m.to,
    state: m.run.state,
    ...(m.run.error ? { error: m.run.error } : {}),
    total_ms: Math.round(moving.to - moving.from),
    rows_copied: m.run.rowsCopied,
    rows_per_s: round(m.run.rowsPerSecond, 0),
    fence_ms: round(m.run.fenceMs, 0),
    write_pause_ms: round(Math.max(slowest ?? 0, gap)),
    slowest_write_ms: round(slowest),
    write_gap_ms: round(gap)!,
    write_p99_before_ms: round(percentile(within(m.writes, m.quiet).filter(ok).map(latency), 0.99)),
    writes: m.writes.length,
    writes_during_move: within(m.writes, moving).length,
    write_errors: errors,
    lost_writes: m.lost,
    others_p99_before_ms: round(percentile(latenciesIn(others, [m.quiet], shared), 0.99)),
    others_p99_during_ms: round(percentile(latenciesIn(others, [moving], shared), 0.99)),
    stages_seen_ms: m.run.stagesSeen,
    others_p99_by_stage_ms: byStage(m.run.stagesSeen, moving, (w) => round(percentile(latenciesIn(others, [w], shared), 0.99))),
    ...(server ? { server } : {}),
  };
}

function summarize(
  measured: readonly Measured[],
  others: readonly Sample[],
  timings: ReadonlyMap<string, ServerTimings>,
  big: MoveTenant | undefined,
  settings: MoveSettings,
  load: (typeof LOAD)['full'],
  probe: PgCopyProbe | undefined,
): MoveResult {
  const moves = measured.map((m) => sampleOf(m, others, timings));
  const done = moves.filter((m) => m.state === 'succeeded');
  const rateMoves = big ? done.filter((m) => m.tenant === big.id) : done;
  const nums = (values: readonly (number | null)[]) => values.filter((v): v is number => v !== null);
  const pauses = nums(done.map((m) => m.write_pause_ms));
  const fences = nums(done.map((m) => m.fence_ms));
  // pooled per move over the tenants sharing its shards, each move against its own quiet window
  const sharedWith = (m: Measured) => (s: Sample) => s.shard === m.from || s.shard === m.to;
  const before = measured.flatMap((m) => latenciesIn(others, [m.quiet], sharedWith(m)));
  const during = measured.flatMap((m) => latenciesIn(others, [m.run.window], sharedWith(m)));
  const p99Before = percentile(before, 0.99);
  const p99During = percentile(during, 0.99);
  const rowsPerS = round(percentile(nums(rateMoves.map((m) => m.rows_per_s)), 0.5), 0);
  return {
    rows_per_s: rowsPerS,
    pg_copy_rows_per_s: probe ? probe.rows_per_s : null,
    copy_vs_pg_copy: probe && rowsPerS !== null && probe.rows_per_s > 0 ? round(rowsPerS / probe.rows_per_s, 3) : null,
    pg_copy_tables: probe ? probe.tables : null,
    rows_per_s_from: big ? `the ${big.rows}-row tenant's copy (job rowsPerSecond)` : `the ${settings.smallRows}-row tenants' copies (job rowsPerSecond; too small to mean much)`,
    write_pause_p50_ms: round(percentile(pauses, 0.5)),
    write_pause_p99_ms: round(percentile(pauses, 0.99)),
    write_pause_max_ms: round(pauses.length === 0 ? null : Math.max(...pauses)),
    write_gap_p99_ms: round(percentile(done.map((m) => m.write_gap_ms), 0.99)),
    fence_ms_p50: round(percentile(fences, 0.5), 0),
    fence_ms_p99: round(percentile(fences, 0.99), 0),
    fence_ms_max: fences.length === 0 ? null : Math.max(...fences),
    others_p99_ratio: p99Before !== null && p99During !== null && p99Before > 0 ? round(p99During / p99Before, 3) : null,
    others_p99_before_ms: round(p99Before),
    others_p99_during_ms: round(p99During),
    others_requests_before: before.length,
    others_requests_during: during.length,
    others_errors: others.filter((s) => !ok(s)).length,
    moves_failed: moves.length - done.length,
    writes: moves.reduce((sum, m) => sum + m.writes, 0),
    write_errors: moves.reduce((sum, m) => sum + count(m.write_errors), 0),
    lost_writes: moves.reduce((sum, m) => sum + m.lost_writes, 0),
    load: `others: ${load.otherWorkers} loops × 1 request / ${load.otherIntervalMs} ms (90% GET, 10% PATCH) over every seed tenant; moving tenant: ${WRITERS} loops × 1 PATCH / ${WRITER_INTERVAL_MS} ms`,
    moves,
  };
}
