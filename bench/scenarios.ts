import path from 'node:path';
import type { SpawnSpec } from './contenders.js';
import type { ClusterFile } from './cluster.js';
import { primaryUrl, replicaUrl } from './cluster.js';
import type { Workload } from './load.js';
import type { Seed } from './seed.js';
import { expectStatus, productBody, request } from './http.js';
import { creates, mix, pointReads, readSet, updates, type ReadSet } from './workloads.js';

export type ContenderId =
  | 'raw-http'
  | 'raw-http-rls'
  | 'express-pg'
  | 'naive-sequelize'
  | 'shardgate'
  | 'shardgate-cache-off'
  | 'shardgate-cache-off-unprepared'
  | 'shardgate-cache-off-tracing-off'
  | 'shardgate-cache-off-trace-all';

export interface Scenario {
  readonly name: string;
  readonly label: string;
  readonly contender: ContenderId;
  readonly workload: Workload;
  /** runs before every round (fresh consistency tokens) */
  readonly beforeRound?: (url: string) => Promise<void>;
  /** before any load: proves the scenario measures what its name says (a cache that hits, one that is off) */
  readonly check?: (url: string) => Promise<void>;
  /** count X-Cache: hit answers during the rounds (reported as cache_hit_ratio) */
  readonly countCacheHits?: boolean;
  /** count the statements replicas answered, from the gateway's metrics (replica_share; checks.routed_read_replica_share for the routed read) */
  readonly countReplicaReads?: boolean;
}

export interface SpawnContext {
  readonly cluster: ClusterFile;
  readonly adminToken: string;
  /** SHARDGATE_ENCRYPTION_KEYS, the same for every gateway of the run */
  readonly encryptionKeys: string;
  readonly cpuProfDir: string | undefined;
  /** where tracing-on gateways export (bench/otlp-sink.ts) */
  readonly otlpEndpoint: string;
  /** the cluster file with the plan rate lifted (cluster.ts benchGatewayConfig) */
  readonly gatewayConfig: string;
}

export const SHARDGATE_IDS: readonly ContenderId[] = ['shardgate', 'shardgate-cache-off', 'shardgate-cache-off-unprepared', 'shardgate-cache-off-tracing-off', 'shardgate-cache-off-trace-all'];
export const BASELINE_IDS: readonly ContenderId[] = ['raw-http', 'raw-http-rls', 'express-pg', 'naive-sequelize'];

function profiling(ctx: SpawnContext, name: string): string[] {
  // a folder per contender: tsx's loader runs in a worker thread that writes a profile too
  return ctx.cpuProfDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${path.join(ctx.cpuProfDir, name)}`];
}

/**
 * shardgate exactly as production runs it: NODE_ENV=production (config/production.json,
 * routing headers off, pool.max 20), a real encryption key and admin token. Tracing "on" is
 * the SDK with production's sampler (parent-based, 10 % of new traces: telemetry.traceSampleRatio)
 * exporting OTLP/HTTP (protobuf) to a local sink, as it would to a collector; "trace-all"
 * records every trace (OTEL_TRACES_SAMPLER=parentbased_always_on); "unprepared" parses every
 * statement anew (DB_PREPARED_STATEMENTS=0, as behind a pooler that keeps no prepared statements). Not the no-endpoint default: there
 * src/instrument.ts sets OTEL_TRACES_EXPORTER=none, and NodeSDK then registers no tracer
 * provider at all, so no span is recorded and that would measure tracing as nearly free.
 */
export function shardgateSpec(id: ContenderId, ctx: SpawnContext): SpawnSpec {
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    GATEWAY_CONFIG: ctx.gatewayConfig,
    PORT: '0',
    ADMIN_PORT: '0',
    GATEWAY_ADMIN_TOKEN: ctx.adminToken,
    SHARDGATE_ENCRYPTION_KEYS: ctx.encryptionKeys,
  };
  if (id !== 'shardgate') env.CACHE_ENABLED = '0';
  if (id === 'shardgate-cache-off-unprepared') env.DB_PREPARED_STATEMENTS = '0';
  if (id === 'shardgate-cache-off-tracing-off') env.OTEL_SDK_DISABLED = 'true';
  else env.OTEL_EXPORTER_OTLP_ENDPOINT = ctx.otlpEndpoint;
  if (id === 'shardgate-cache-off-trace-all') env.OTEL_TRACES_SAMPLER = 'parentbased_always_on';
  return { name: id, args: [...profiling(ctx, id), '--import', 'tsx', '--import', './src/instrument.ts', 'src/main.ts'], env };
}

const BASELINE_ENTRY: Partial<Record<ContenderId, string>> = {
  'raw-http': 'bench/servers/raw-http.ts',
  'raw-http-rls': 'bench/servers/raw-http.ts',
  'express-pg': 'bench/servers/express-raw.ts',
  'naive-sequelize': 'bench/servers/naive-sequelize.ts',
};

/**
 * A baseline reads the replica (and writes the primary) of the shard the measured tenants
 * live on, as a hand-written service would: as the privileged role, with no row-level
 * security. `raw-http-rls` is the same server as the request role, each statement scoped to
 * its tenant the way shardgate scopes it (TenantScopedQuery): the pair prices RLS alone.
 */
export function baselineSpec(id: ContenderId, ctx: SpawnContext, reads: ReadSet): SpawnSpec {
  const shard = ctx.cluster.shards.find((s) => s.id === reads.shardId);
  const entry = BASELINE_ENTRY[id];
  if (shard === undefined || entry === undefined) throw new Error(`no baseline ${id} for shard ${reads.shardId}`);
  const as = id === 'raw-http-rls' ? 'request' : 'admin';
  const env: Record<string, string> = { NODE_ENV: 'production', BENCH_REPLICA: replicaUrl(shard, as), BENCH_PRIMARY: primaryUrl(shard, as), BENCH_POOL_MAX: '20', PORT: '0' };
  if (id === 'raw-http-rls') env.BENCH_RLS = '1';
  return { name: id, args: [...profiling(ctx, id), '--import', 'tsx', entry], env };
}

/**
 * GETs one product until X-Cache says `expected`. A hit may take a few tries: on a busy
 * machine a Redis command past its timeout counts as an error and caches nothing.
 */
function expectCache(target: ReadSet['hot'][number], expected: 'hit' | 'bypass') {
  return async (url: string): Promise<void> => {
    let seen: string | null = null;
    for (let i = 0; i < (expected === 'hit' ? 20 : 1); i++) {
      const res = await expectStatus('cache check', 200, request('GET', `${url}/v1/products/${target.productId}`, { authorization: `Bearer ${target.tenant.apiKey}` }));
      seen = res.headers.get('x-cache');
      if (seen === expected) return;
    }
    throw new Error(`expected X-Cache: ${expected}, got ${seen}: is the gateway's cache switch (CACHE_ENABLED / cache.enabled) there, and Redis up?`);
  };
}

/** Consistency tokens, one per read tenant, from a fresh write each. */
async function freshTokens(url: string, reads: ReadSet): Promise<Map<string, string>> {
  const tokens = new Map<string, string>();
  for (const [i, tenant] of reads.tenants.entries()) {
    const res = await expectStatus('token write', 201, request('POST', `${url}/v1/products`, { authorization: `Bearer ${tenant.apiKey}` }, productBody(i)));
    const token = res.headers.get('x-consistency-token');
    if (token === null) throw new Error('a write answered without X-Consistency-Token');
    tokens.set(tenant.id, token);
  }
  return tokens;
}

/** Every scenario, in table order, and the process it loads. */
export const SCENARIO_CONTENDERS = {
  'baseline-raw-http-pg-read': 'raw-http',
  'baseline-raw-http-pg-read-rls': 'raw-http-rls',
  'baseline-express-pg-read': 'express-pg',
  'baseline-naive-sequelize-read': 'naive-sequelize',
  'baseline-naive-sequelize-write': 'naive-sequelize',
  'shardgate-read-cache-off': 'shardgate-cache-off',
  'shardgate-read-cache-off-unprepared': 'shardgate-cache-off-unprepared',
  'shardgate-read-cache-off-tracing-off': 'shardgate-cache-off-tracing-off',
  'shardgate-read-cache-off-trace-all': 'shardgate-cache-off-trace-all',
  'shardgate-read-cache-hit': 'shardgate',
  'shardgate-write': 'shardgate',
  'shardgate-write-patch': 'shardgate',
  'shardgate-mix-90-10': 'shardgate',
  'shardgate-read-token': 'shardgate',
} as const satisfies Record<string, ContenderId>;

export type ScenarioName = keyof typeof SCENARIO_CONTENDERS;

export function scenarios(seed: Seed, smoke: boolean): Scenario[] {
  const reads = readSet(seed);
  let tokenReads: Workload = () => {
    throw new Error('token reads before their tokens');
  };
  // smoke mode serves these from the cache-on gateway: there the check would rightly fail
  const cacheOff = smoke ? undefined : expectCache(reads.targets[0]!, 'bypass');
  const defs: Record<ScenarioName, Omit<Scenario, 'name' | 'contender'>> = {
    'baseline-raw-http-pg-read': { label: 'node:http + pg, point read (ceiling)', workload: pointReads(reads.targets, 'tenant-header') },
    'baseline-raw-http-pg-read-rls': { label: 'the same, request role under row-level security', workload: pointReads(reads.targets, 'tenant-header') },
    'baseline-express-pg-read': { label: 'Express 5 + pg, point read (ceiling)', workload: pointReads(reads.targets, 'tenant-header') },
    'baseline-naive-sequelize-read': { label: 'naive Express + Sequelize `replication`, findOne', workload: pointReads(reads.targets, 'tenant-header') },
    'baseline-naive-sequelize-write': { label: 'naive Express + Sequelize, create', workload: creates(reads.tenants, 'tenant-header') },
    'shardgate-read-cache-off': { label: 'shardgate GET /v1/products/:id, replica, cache off', workload: pointReads(reads.targets, 'api-key'), check: cacheOff, countReplicaReads: true },
    'shardgate-read-cache-off-unprepared': { label: 'the same, prepared statements off', workload: pointReads(reads.targets, 'api-key'), check: cacheOff },
    'shardgate-read-cache-off-tracing-off': { label: 'the same, tracing off', workload: pointReads(reads.targets, 'api-key'), check: cacheOff },
    'shardgate-read-cache-off-trace-all': { label: 'the same, every trace recorded', workload: pointReads(reads.targets, 'api-key'), check: cacheOff },
    'shardgate-read-cache-hit': { label: `shardgate GET, cache hits (${reads.hot.length} hot keys)`, workload: pointReads(reads.hot, 'api-key'), check: expectCache(reads.hot[0]!, 'hit'), countCacheHits: true },
    'shardgate-write': { label: 'shardgate POST /v1/products', workload: creates(reads.tenants, 'api-key') },
    'shardgate-write-patch': { label: 'shardgate PATCH /v1/products/:id (a transaction: lock, update, audit row)', workload: updates(reads.targets, 'api-key') },
    'shardgate-mix-90-10': { label: `shardgate 90/10 read/create, ${seed.tenants.length} tenants, all shards`, workload: mix(seed, 10_000), countCacheHits: true },
    'shardgate-read-token': {
      label: 'shardgate GET with X-Consistency-Token',
      workload: () => tokenReads(),
      beforeRound: async (url) => {
        const tokens = await freshTokens(url, reads);
        tokenReads = pointReads(reads.targets, 'api-key', (t) => ({ 'x-consistency-token': tokens.get(t.id)! }));
      },
    },
  };
  return (Object.keys(SCENARIO_CONTENDERS) as ScenarioName[]).map((name) => ({ name, contender: SCENARIO_CONTENDERS[name], ...defs[name] }));
}
