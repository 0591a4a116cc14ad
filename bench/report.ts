import os from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { RoundResult } from './load.js';
import type { RoutingResult } from './routing.js';
import type { MoveResult, MoveSample } from './move.js';
import type { SeriesResult } from './series.js';
import type { TransfersResult } from './transfers.js';

export interface Machine {
  readonly cpu: string;
  readonly nproc: number;
  readonly memory_gb: number;
  readonly node: string;
  readonly os: string;
  readonly date: string;
  /** 1-minute load average when the run started and ended: how noisy the box was */
  readonly loadavg_start: number;
  readonly loadavg_end: number;
}

export interface ScenarioResult extends RoundResult {
  readonly name: string;
}

export interface Ratios {
  readonly routed_read_vs_raw: number | null;
  readonly routed_read_vs_express_raw: number | null;
  readonly routed_read_vs_naive: number | null;
  readonly cache_hit_vs_routed_read: number | null;
  readonly write_vs_naive: number | null;
  /** the routed read over the same read with every statement parsed anew (db.preparedStatements off) */
  readonly prepared_vs_unprepared: number | null;
}

export interface Checks {
  /** share of the routed-read scenario's statements replicas answered (target ≥ 0.95); null when it did not run */
  readonly routed_read_replica_share: number | null;
}

export interface BenchReport {
  readonly machine: Machine;
  readonly settings: Record<string, unknown>;
  readonly scenarios: readonly ScenarioResult[];
  readonly ratios: Ratios;
  /** the same ratios from server CPU per request instead of rps (requests per CPU-second) */
  readonly cpu_ratios: Ratios;
  /** that the scenarios measured what their names say */
  readonly checks: Checks;
  readonly routing: RoutingResult | null;
  /** what row-level security adds to a point read; null when its pair did not run */
  readonly rls: RlsCost | null;
  /** the tenant-move scenario (bench/move.ts); null when not selected */
  readonly move: MoveResult | null;
  /** the time-series scenario (bench/series.ts); null when not selected */
  readonly series: SeriesResult | null;
  /** the transfers scenario (bench/transfers.ts); null when not selected */
  readonly transfers: TransfersResult | null;
}

export function machine(loadStart: number): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    nproc: os.availableParallelism(),
    memory_gb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    date: new Date().toISOString(),
    loadavg_start: loadStart,
    loadavg_end: os.loadavg()[0] ?? 0,
  };
}

/**
 * Row-level security's price per point read: the raw baseline as the request role under
 * RLS (scoped as shardgate scopes) minus the same as the privileged role without it, in the
 * server process and in the database, and that sum as a share of a shardgate read's CPU
 * (gateway + database, cache off). Issue 14's target: under 5 %.
 */
export interface RlsCost {
  readonly server_us: number;
  readonly db_us: number | null;
  readonly read_us: number | null;
  readonly share_of_read: number | null;
}

export function rlsCost(results: readonly ScenarioResult[]): RlsCost | null {
  const find = (name: string) => results.find((r) => r.name === name);
  const off = find('baseline-raw-http-pg-read');
  const on = find('baseline-raw-http-pg-read-rls');
  if (off?.cpu_us_per_req === undefined || on?.cpu_us_per_req === undefined) return null;
  const server = on.cpu_us_per_req - off.cpu_us_per_req;
  const db = on.db_cpu_us_per_req !== undefined && off.db_cpu_us_per_req !== undefined ? on.db_cpu_us_per_req - off.db_cpu_us_per_req : null;
  const read = find('shardgate-read-cache-off');
  const readUs = read?.cpu_us_per_req !== undefined && read.db_cpu_us_per_req !== undefined ? read.cpu_us_per_req + read.db_cpu_us_per_req : null;
  const round = (v: number) => Math.round(v * 10) / 10;
  return {
    server_us: round(server),
    db_us: db === null ? null : round(db),
    read_us: readUs === null ? null : round(readUs),
    share_of_read: db === null || readUs === null || readUs <= 0 ? null : Math.round(((server + db) / readUs) * 1000) / 1000,
  };
}

type Metric = (r: ScenarioResult) => number | undefined;
/** throughput: requests a second under load */
const RPS: Metric = (r) => r.rps;
/** requests a CPU-second of the server process: the same comparison, steadier on a shared machine */
const PER_CPU: Metric = (r) => (r.cpu_us_per_req === undefined || r.cpu_us_per_req <= 0 ? undefined : 1e6 / r.cpu_us_per_req);

/** metric of a over metric of b, when both ran; 3 decimals. */
function ratio(results: readonly ScenarioResult[], metric: Metric, a: string, b: string): number | null {
  const ra = results.find((r) => r.name === a);
  const rb = results.find((r) => r.name === b);
  const x = ra && metric(ra);
  const y = rb && metric(rb);
  if (x === undefined || y === undefined || !(y > 0)) return null;
  return Math.round((x / y) * 1000) / 1000;
}

/** "routed read" is shardgate with production defaults (tracing on) and the cache off. */
export function ratios(results: readonly ScenarioResult[], metric: 'rps' | 'per_cpu' = 'rps'): Ratios {
  const m = metric === 'rps' ? RPS : PER_CPU;
  const routed = 'shardgate-read-cache-off';
  return {
    routed_read_vs_raw: ratio(results, m, routed, 'baseline-raw-http-pg-read'),
    routed_read_vs_express_raw: ratio(results, m, routed, 'baseline-express-pg-read'),
    routed_read_vs_naive: ratio(results, m, routed, 'baseline-naive-sequelize-read'),
    cache_hit_vs_routed_read: ratio(results, m, 'shardgate-read-cache-hit', routed),
    write_vs_naive: ratio(results, m, 'shardgate-write', 'baseline-naive-sequelize-write'),
    prepared_vs_unprepared: ratio(results, m, routed, 'shardgate-read-cache-off-unprepared'),
  };
}

/** What the routed read's ratios stand for only if it held: its reads were the replicas'. */
export function checks(results: readonly ScenarioResult[]): Checks {
  return { routed_read_replica_share: results.find((r) => r.name === 'shardgate-read-cache-off')?.replica_share ?? null };
}

/** Targets from issue 8: quoted next to the ratios, never asserted. */
const TARGETS: Record<string, string> = {
  routed_read_vs_express_raw: '≥ 0.85',
  routed_read_vs_naive: '≥ 1.3',
  cache_hit_vs_routed_read: '≥ 1.3',
};

const fixed = (v: number | null) => (v === null ? 'n/a' : v.toFixed(2));

/** The README table (markdown reads fine in a terminal too). */
export function table(report: BenchReport, labels: ReadonlyMap<string, string>): string {
  const m = report.machine;
  const lines = [`${m.date.slice(0, 10)} · ${m.cpu} · nproc ${m.nproc} · ${m.memory_gb} GB · Node ${m.node.slice(1)} · load average ${m.loadavg_start.toFixed(1)} → ${m.loadavg_end.toFixed(1)}`];
  // `--only move` runs no load scenario: no empty tables
  if (report.scenarios.length > 0) lines.push('', ...scenarioTables(report, labels));
  const share = report.checks.routed_read_replica_share;
  if (share !== null) lines.push('', `Check: ${(share * 100).toFixed(1)} % of the routed reads' statements ran on a replica (target ≥ 95 %: otherwise the routed-read ratios measure the primary).`);
  const prepared = preparedLine(report.scenarios);
  if (prepared !== undefined) lines.push('', prepared);
  const x = report.rls;
  if (x !== null) {
    const share = x.share_of_read === null ? 'n/a' : `${(x.share_of_read * 100).toFixed(1)} %`;
    lines.push('', `Row-level security: +${x.server_us.toFixed(1)} µs server CPU and +${x.db_us === null ? 'n/a' : x.db_us.toFixed(1)} µs database CPU per point read (raw baseline with vs without); ${share} of a shardgate read's ${x.read_us === null ? 'n/a' : x.read_us.toFixed(0)} µs (gateway + database, cache off; target < 5 %).`);
  }
  const r = report.routing;
  if (r !== null) {
    lines.push('', `Routing: ${(r.ns_per_op / 1000).toFixed(2)} µs per decision over ${r.tenants.toLocaleString('en')} distinct tenants with ${r.pins.toLocaleString('en')} pins (target ≤ 5 µs); ${r.ns_per_op_hot.toFixed(0)} ns for a repeating set; placement state ${r.heap_mb.toFixed(1)} MB of heap.`);
  }
  lines.push('', ...(report.move === null ? ['Moves: not measured (not selected).'] : moveTable(report.move)));
  lines.push('', ...(report.series === null ? ['Time series: not measured (not selected).'] : seriesTable(report.series)));
  lines.push('', ...(report.transfers === null ? ['Transfers: not measured (not selected).'] : transfersTable(report.transfers)));
  return lines.join('\n');
}

/** Prepared statements save the database more than the gateway: both sides of the routed read, with and without. */
function preparedLine(results: readonly ScenarioResult[]): string | undefined {
  const on = results.find((r) => r.name === 'shardgate-read-cache-off');
  const off = results.find((r) => r.name === 'shardgate-read-cache-off-unprepared');
  if (on === undefined || off === undefined) return undefined;
  const us = (v: number | undefined) => (v === undefined ? 'n/a' : v.toFixed(0));
  return `Prepared statements: a routed read costs ${us(on.cpu_us_per_req)} µs gateway CPU and ${us(on.db_cpu_us_per_req)} µs database CPU prepared, ${us(off.cpu_us_per_req)} and ${us(off.db_cpu_us_per_req)} with every statement parsed anew (prepared_vs_unprepared above).`;
}

function scenarioTables(report: BenchReport, labels: ReadonlyMap<string, string>): string[] {
  return [
    '| scenario | | req/s | p50 ms | p99 ms | server CPU µs/req | database CPU µs/req | errors |',
    '|---|---|--:|--:|--:|--:|--:|--:|',
    ...report.scenarios.map((s) => {
      const hits =
        (s.cache_hit_ratio === undefined ? '' : ` — ${(s.cache_hit_ratio * 100).toFixed(0)}% cache hits`) +
        (s.replica_share === undefined ? '' : ` — ${(s.replica_share * 100).toFixed(0)}% of statements on replicas`);
      const cpu = s.cpu_us_per_req === undefined ? 'n/a' : s.cpu_us_per_req.toFixed(0);
      const db = s.db_cpu_us_per_req === undefined ? 'n/a' : s.db_cpu_us_per_req.toFixed(0);
      return `| \`${s.name}\` | ${labels.get(s.name) ?? ''}${hits} | ${Math.round(s.rps)} | ${s.p50_ms.toFixed(1)} | ${s.p99_ms.toFixed(1)} | ${cpu} | ${db} | ${s.errors} |`;
    }),
    '',
    '| ratio | by req/s | by server CPU per request | target |',
    '|---|--:|--:|--|',
    ...(Object.keys(report.ratios) as (keyof Ratios)[]).map((k) => `| ${k} | ${fixed(report.ratios[k])} | ${fixed(report.cpu_ratios[k])} | ${TARGETS[k] ?? ''} |`),
  ];
}

const ms = (v: number | null) => (v === null ? 'n/a' : v.toFixed(0));

/** Where the fence's time went, per the mover's own stage timings (absent when the catalog could not be read). */
function fenceStages(x: MoveSample): string {
  const stageMs = x.server?.stageMs;
  if (stageMs === undefined || Array.isArray(stageMs) || typeof stageMs !== 'object') return 'n/a';
  const stages = stageMs as Readonly<Record<string, number>>;
  return ['fenced', 'verified', 'cutover'].map((k) => ms(stages[k] ?? null)).join(' / ');
}

/** One line per move, then the three headline numbers against their targets (issue 8; never asserted). */
function moveTable(m: MoveResult): string[] {
  const errors = (e: Readonly<Record<string, number>>) => Object.entries(e).map(([status, n]) => `${n}× ${status === '0' ? 'no answer' : status}`).join(', ') || '0';
  return [
    '| move | rows copied | state | total s | copy rows/s | fence ms (server) | of it: fenced / verified / cutover stage ms | write pause ms = max(slowest write, longest no-write) | write p99 before ms | write errors | others p99 before → during ms |',
    '|---|--:|---|--:|--:|--:|--|--|--:|--|--:|',
    ...m.moves.map((x) => `| ${x.tenant} ${x.from} → ${x.to} | ${x.rows_copied} | ${x.state}${x.lost_writes > 0 ? `, ${x.lost_writes} lost` : ''} | ${(x.total_ms / 1000).toFixed(1)} | ${ms(x.rows_per_s)} | ${ms(x.fence_ms)} | ${fenceStages(x)} | ${ms(x.write_pause_ms)} = max(${ms(x.slowest_write_ms)}, ${ms(x.write_gap_ms)}) | ${ms(x.write_p99_before_ms)} | ${errors(x.write_errors)} | ${ms(x.others_p99_before_ms)} → ${ms(x.others_p99_during_ms)} |`),
    '',
    '| move metric | value | target |',
    '|---|--:|--|',
    `| rows_per_s (${m.rows_per_s_from}) | ${ms(m.rows_per_s)} | |`,
    `| pg_copy_rows_per_s (PostgreSQL's COPY of the same rows into like tables on the target) | ${ms(m.pg_copy_rows_per_s)} | |`,
    `| copy_vs_pg_copy | ${fixed(m.copy_vs_pg_copy)} | ≥ 1.0 |`,
    `| write pause p50 / p99 / max ms (per move, client-side) | ${ms(m.write_pause_p50_ms)} / ${ms(m.write_pause_p99_ms)} / ${ms(m.write_pause_max_ms)} | p99 ≤ 50 |`,
    `| fence p50 / p99 / max ms (server) | ${ms(m.fence_ms_p50)} / ${ms(m.fence_ms_p99)} / ${ms(m.fence_ms_max)} | |`,
    `| others_p99_ratio (${ms(m.others_p99_during_ms)} / ${ms(m.others_p99_before_ms)} ms, ${m.others_requests_during} / ${m.others_requests_before} requests) | ${fixed(m.others_p99_ratio)} | ≤ 1.1 |`,
    `| moving tenant: writes, errors, lost; others' errors; failed moves | ${m.writes}, ${m.write_errors}, ${m.lost_writes}; ${m.others_errors}; ${m.moves_failed} | all 0 but writes |`,
  ];
}

export function writeReport(file: string, report: BenchReport): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
}

/** The time-series figures against their targets (issue 15; never asserted). */
function seriesTable(s: SeriesResult): string[] {
  return [
    '| time series | value | target |',
    '|---|--:|--:|',
    `| series.ingest_points_per_s (HTTP, batches of 10,000, ${s.ingest_concurrency} in flight) | ${s.ingest_points_per_s} | ≥ 50,000 |`,
    `| series.points (seeded tenant) | ${s.points} | ≥ 1,000,000 |`,
    `| series.query_30d_1h_p50_ms (avg, from hour rollups) | ${s.query_30d_1h_p50_ms} | ≤ 100 |`,
    `| the same query, p95 of ${s.query_runs} runs | ${s.query_30d_1h_p95_ms} | |`,
    `| the same range with agg=p95 (raw points), p50 ms | ${s.query_30d_1h_p95agg_p50_ms} | |`,
  ];
}

/** Transfers between partner tenants on two shards (issue 16; never asserted). */
function transfersTable(t: TransfersResult): string[] {
  return [
    `| transfers (${t.pairs} cross-shard pairs, ${t.connections} connections, ${t.seconds_per_protocol} s each) | value |`,
    '|---|--:|',
    `| transfers.saga_per_s | ${t.saga_per_s} |`,
    `| transfers.twopc_per_s | ${t.twopc_per_s} |`,
    `| transfers.p99_ms (both) | ${t.p99_ms} |`,
    `| saga p50 / p99 ms | ${t.saga_p50_ms} / ${t.saga_p99_ms} |`,
    `| 2pc p50 / p99 ms | ${t.twopc_p50_ms} / ${t.twopc_p99_ms} |`,
    `| not committed | ${t.not_committed} |`,
    `| stock conserved | ${t.stock_conserved ? 'yes' : 'NO'} |`,
  ];
}
