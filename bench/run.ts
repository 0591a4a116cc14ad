/**
 * `npm run bench [-- --smoke] [--cluster <gateway.json>] …`: the contenders as separate
 * processes, autocannon from this one, rounds alternating the contenders, medians quoted;
 * then the routing micro-benchmark. Prints a table, writes bench/results/latest.json
 * (smoke: smoke.json). See README "Performance".
 */
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { parseOptions, REPO_DIR, type BenchOptions } from './options.js';
import { benchGatewayConfig, primaryUrl, replicaUrlsOf, resolveCluster } from './cluster.js';
import { spawnContender, stopAll, type Contender } from './contenders.js';
import { ensureSeed } from './seed.js';
import { runRound, summarize, type RoundResult } from './load.js';
import { readSet } from './workloads.js';
import { BASELINE_IDS, baselineSpec, SCENARIO_CONTENDERS, scenarios, SHARDGATE_IDS, shardgateSpec, type ContenderId, type Scenario, type ScenarioName } from './scenarios.js';
import { replicaShare } from './served-by.js';
import { checks, machine, ratios, rlsCost, table, writeReport, type BenchReport, type ScenarioResult } from './report.js';
import type { RoutingResult } from './routing.js';
import { probe } from './http.js';
import { cpuMicros, postmasterPids, serverCpuMeter } from './cpu.js';
import { OtlpSink } from './otlp-sink.js';
import { moveScenario, type MoveResult } from './move.js';
import { seriesScenario, type SeriesResult } from './series.js';
import { transfersScenario, type TransfersResult } from './transfers.js';
import { loadConfig } from '../src/config/load-config.js';

/** The move scenario's name for --only: it runs after the load scenarios, on the production-default gateway. */
const MOVE_SCENARIO = 'shardgate-move';
/** The time-series scenario's name for --only (bench/series.ts) */
const SERIES_SCENARIO = 'shardgate-series';
/** The transfers scenario's name for --only (bench/transfers.ts) */
const TRANSFERS_SCENARIO = 'shardgate-transfers';

const t0 = Date.now();
/** Progress lines carry the time since start: where a slow run spends it shows at a glance. */
function say(text: string): void {
  console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${text}`);
}

/** The routing micro-benchmark in its own process: --expose-gc, and a heap nothing else shares. */
function routingBenchmark(o: BenchOptions): RoutingResult {
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/routing.ts', String(o.routingTenants), String(o.routingPins)], {
    cwd: REPO_DIR,
    encoding: 'utf8',
    timeout: 10 * 60_000,
  });
  const last = r.stdout?.trim().split('\n').at(-1);
  if (r.status !== 0 || !last) throw new Error(`routing benchmark failed: ${r.stderr ?? r.error?.message ?? ''}`);
  return JSON.parse(last) as RoutingResult;
}

/**
 * The gateway's `moves.*` settings as the shardgate contender loads them (its environment
 * over config/ and the cluster file): a copy throttle or verify mode explains a number.
 */
function moverSettings(ctx: Parameters<typeof shardgateSpec>[1]): unknown {
  try {
    return loadConfig(shardgateSpec('shardgate', ctx).env).moves;
  } catch (err) {
    return `unreadable: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** Warm-up, then `rounds` rounds; each round runs every scenario once, starting one later each time. */
async function measure(list: readonly Scenario[], contenders: ReadonlyMap<ContenderId, Contender>, o: BenchOptions, postmasters: readonly number[]): Promise<ScenarioResult[]> {
  const rounds = new Map<string, RoundResult[]>(list.map((s) => [s.name, []]));
  const once = async (s: Scenario, durationS: number): Promise<RoundResult> => {
    const { url, pid, adminUrl } = contenders.get(s.contender)!;
    await s.beforeRound?.(url);
    const round = () =>
      runRound(url, s.workload, {
        connections: o.connections,
        durationS,
        countCacheHits: s.countCacheHits ?? false,
        cpu: () => cpuMicros(pid),
        dbCpu: serverCpuMeter(postmasters),
      });
    if (!s.countReplicaReads || adminUrl === undefined) return round();
    let result!: RoundResult;
    const share = await replicaShare(adminUrl, async () => {
      result = await round();
    });
    return { ...result, replica_share: share };
  };
  for (const s of list) {
    const url = contenders.get(s.contender)!.url;
    await s.beforeRound?.(url);
    await probe(url, s.workload()).catch((err: unknown) => {
      throw new Error(`${s.name}: ${err instanceof Error ? err.message : String(err)}`);
    });
    await s.check?.(url);
    await once(s, o.warmupS);
  }
  say('warmed up');
  for (let r = 0; r < o.rounds; r++) {
    for (let k = 0; k < list.length; k++) {
      const s = list[(k + r) % list.length]!;
      const result = await once(s, o.durationS);
      rounds.get(s.name)!.push(result);
      say(`round ${r + 1}/${o.rounds}  ${s.name.padEnd(38)} ${Math.round(result.rps).toString().padStart(6)} req/s  p99 ${result.p99_ms.toFixed(1).padStart(7)} ms  ${(result.cpu_us_per_req ?? NaN).toFixed(0).padStart(5)} µs CPU/req  ${(result.db_cpu_us_per_req ?? NaN).toFixed(0).padStart(5)} µs DB  errors ${result.errors}`);
    }
  }
  return list.map((s) => ({ name: s.name, ...summarize(rounds.get(s.name)!) }));
}

/**
 * Which process serves a scenario. Smoke mode runs one shardgate process (production
 * defaults) for every shardgate scenario: three gateways booting at once cost most of a
 * smoke run, and the harness code is the same whichever process answers.
 */
function contenderFor(name: ScenarioName, o: BenchOptions): ContenderId {
  const id = SCENARIO_CONTENDERS[name];
  return o.smoke && SHARDGATE_IDS.includes(id) ? 'shardgate' : id;
}

export async function runBench(o: BenchOptions): Promise<BenchReport> {
  const loadStart = os.loadavg()[0] ?? 0;
  const cluster = resolveCluster(o.cluster);
  const sink = await OtlpSink.start();
  // one keyring for every gateway, as one Secret serves a fleet: each gateway reseals the
  // catalog's shard passwords under its current key at start, which a gateway holding
  // another key could then not open
  const encryptionKeys = `bench:${randomBytes(32).toString('base64')}`;
  const ctx = { cluster, gatewayConfig: benchGatewayConfig(cluster), adminToken: randomBytes(24).toString('base64url'), encryptionKeys, cpuProfDir: o.cpuProfDir, otlpEndpoint: sink.endpoint };
  const names = (Object.keys(SCENARIO_CONTENDERS) as ScenarioName[]).filter((n) => o.only.length === 0 || o.only.some((w) => n.includes(w)));
  const moves = o.only.length === 0 || o.only.some((w) => MOVE_SCENARIO.includes(w));
  const series = o.only.length === 0 || o.only.some((w) => SERIES_SCENARIO.includes(w));
  const transfers = o.only.length === 0 || o.only.some((w) => TRANSFERS_SCENARIO.includes(w));
  if (names.length === 0 && !moves && !series && !transfers) throw new Error(`--only ${o.only.join(',')} matches no scenario`);
  // 'shardgate' always runs: it seeds
  const needed = new Set<ContenderId>(['shardgate', ...names.map((n) => contenderFor(n, o))]);

  const starts: Promise<Contender>[] = [];
  const running = new Map<ContenderId, Contender>();
  const start = async (id: ContenderId, spec: Parameters<typeof spawnContender>[0]): Promise<Contender> => {
    const p = spawnContender(spec);
    starts.push(p);
    const c = await p;
    running.set(id, c);
    return c;
  };

  let results: ScenarioResult[];
  let labels: Map<string, string>;
  let tenants: number;
  let move: MoveResult | null = null;
  let seriesResult: SeriesResult | null = null;
  let transfersResult: TransfersResult | null = null;
  try {
    // the shardgate processes boot together; the production-default one (cache on) seeds
    const gateways = SHARDGATE_IDS.filter((id) => needed.has(id)).map((id) => start(id, shardgateSpec(id, ctx)));
    const gw = await gateways[0]!;
    say(`shardgate up at ${gw.url}; seeding`);
    const seed = await ensureSeed(cluster.catalog, o.tenants, o.productsPerTenant, { tenantUrl: gw.url, adminUrl: gw.adminUrl!, adminToken: ctx.adminToken });
    tenants = seed.tenants.length;
    const reads = readSet(seed);
    // baselines need the seed: they read the replica of the shard the measured tenants live on
    const baselines = BASELINE_IDS.filter((id) => needed.has(id)).map((id) => start(id, baselineSpec(id, ctx, reads)));
    await Promise.all([...gateways, ...baselines]);
    say('every contender is up');

    const list = scenarios(seed, o.smoke)
      .filter((s) => names.includes(s.name as ScenarioName))
      .map((s) => ({ ...s, contender: contenderFor(s.name as ScenarioName, o) }));
    labels = new Map(list.map((s) => [s.name, s.label]));
    say(`${list.length} scenarios × ${o.rounds} rounds × ${o.durationS} s, ${o.connections} connections; reads on ${reads.shardId} (${reads.tenants.length} tenants, ${reads.targets.length} products)`);
    // the shard servers' processes: the database side of every request (admin URLs, where local)
    const postmasters = await postmasterPids(cluster.shards.flatMap((shard) => [primaryUrl(shard, 'admin'), ...replicaUrlsOf(shard, 'admin')]));
    results = list.length === 0 ? [] : await measure(list, running, o, postmasters);
    if (moves) {
      say(`${MOVE_SCENARIO}: ${o.moveTenants} tenants × ${o.moveTenantRows} products${o.moveBigRows > 0 ? ` and one of ${o.moveBigRows}` : ''}, moved one shard on, under load`);
      move = await moveScenario(
        {
          tenantUrl: gw.url, adminUrl: gw.adminUrl!, adminToken: ctx.adminToken, catalog: cluster.catalog, shards: cluster.shards.map((s) => s.id), seed, say,
          adminUrls: new Map(cluster.shards.map((s) => [s.id, primaryUrl(s, 'admin')])),
        },
        { smoke: o.smoke, smallTenants: o.moveTenants, smallRows: o.moveTenantRows, bigRows: o.moveBigRows },
      );
    }
    if (series) {
      seriesResult = await seriesScenario(
        {
          tenantUrl: gw.url, adminUrl: gw.adminUrl!, adminToken: ctx.adminToken, say,
          gatewayCpu: () => cpuMicros(gw.pid),
          dbCpu: serverCpuMeter(postmasters),
        },
        { points: o.smoke ? 20_000 : 1_000_000, queries: o.smoke ? 3 : 31, concurrency: 2 },
      );
      say(`${SERIES_SCENARIO}: ${JSON.stringify(seriesResult)}`);
    }
    if (transfers) {
      transfersResult = await transfersScenario(
        { tenantUrl: gw.url, adminUrl: gw.adminUrl!, adminToken: ctx.adminToken, say },
        { pairs: o.smoke ? 2 : 20, seconds: o.smoke ? 2 : 15, connections: o.smoke ? 4 : 20 },
      );
      say(`${TRANSFERS_SCENARIO}: ${JSON.stringify(transfersResult)}`);
    }
  } finally {
    const settled = await Promise.allSettled(starts);
    await Promise.all(settled.map((s) => (s.status === 'fulfilled' ? s.value.stop() : undefined)));
    await sink.close();
  }
  say('contenders stopped');

  say(`routing micro-benchmark (${o.routingTenants} tenants, ${o.routingPins} pins)`);
  const routing = routingBenchmark(o);
  const report: BenchReport = {
    machine: machine(loadStart),
    settings: {
      smoke: o.smoke, rounds: o.rounds, duration_s: o.durationS, warmup_s: o.warmupS, connections: o.connections,
      tenants, products_per_tenant: o.productsPerTenant,
      move_tenants: o.moveTenants, move_tenant_rows: o.moveTenantRows, move_big_rows: o.moveBigRows,
      ...(moves ? { moves_config: moverSettings(ctx) } : {}),
      tracing: 'OpenTelemetry SDK, production sampler (parent-based, 10 % of new traces; trace-all: every trace), OTLP/HTTP protobuf to a local sink that discards',
      otlp_sink: sink.stats,
      load_generator: 'autocannon, in the harness process on the same machine',
      ...(o.smoke ? { note: 'smoke: one shardgate process (cache on, tracing on) serves every shardgate scenario' } : {}),
    },
    scenarios: results,
    ratios: ratios(results),
    cpu_ratios: ratios(results, 'per_cpu'),
    checks: checks(results),
    rls: rlsCost(results),
    routing,
    move,
    series: seriesResult,
    transfers: transfersResult,
  };
  writeReport(o.out, report);
  console.log('\n' + table(report, labels) + '\n');
  say(`wrote ${o.out}`);
  return report;
}

if (require.main === module) {
  // interrupted (Ctrl-C, a test's timeout): stop the contenders rather than orphan them
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`bench: ${signal}: stopping the contenders`);
      void stopAll().finally(() => process.exit(130));
    });
  }
  runBench(parseOptions(process.argv.slice(2))).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error('bench failed:', err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
