import autocannon from 'autocannon';

/** One request of a workload: the load generator asks for the next one each time. */
export interface NextRequest {
  readonly method: 'GET' | 'POST' | 'PATCH';
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
}

export type Workload = () => NextRequest;

export interface RoundResult {
  /** successful (2xx) responses per second */
  readonly rps: number;
  readonly p50_ms: number;
  readonly p99_ms: number;
  /** connection errors, timeouts and non-2xx responses */
  readonly errors: number;
  /** share of answers with X-Cache: hit, when the scenario counts them */
  readonly cache_hit_ratio?: number;
  /** share of the gateway's statements replicas answered during the round, when the scenario counts them */
  readonly replica_share?: number;
  /** the server process's CPU time per response (µs), when it can be read */
  readonly cpu_us_per_req?: number;
  /** the shard servers' CPU time per response (µs): every PostgreSQL process of the fleet, when local */
  readonly db_cpu_us_per_req?: number;
}

export interface LoadSettings {
  readonly connections: number;
  readonly durationS: number;
}

/** One round of closed-loop load (autocannon's programmatic API) against `url`. */
export interface RoundOptions extends LoadSettings {
  readonly countCacheHits?: boolean;
  /** the server's CPU time so far (µs), read before and after the round */
  readonly cpu?: () => number | undefined;
  /** starts measuring the database servers' CPU; the returned function says how much they used since (µs) */
  readonly dbCpu?: () => (() => number | undefined) | undefined;
}

export async function runRound(url: string, workload: Workload, settings: RoundOptions): Promise<RoundResult> {
  const cpuBefore = settings.cpu?.();
  const dbSince = settings.dbCpu?.();
  let answered = 0;
  let hits = 0;
  // only where asked: header parsing per response costs the load generator some CPU
  const onResponse = (_status: number, _body: string, _context: object, headers: Record<string, unknown> | undefined) => {
    answered++;
    if (headers?.['X-Cache'] === 'hit' || headers?.['x-cache'] === 'hit') hits++;
  };
  const result = await autocannon({
    url,
    connections: settings.connections,
    duration: settings.durationS,
    // a fresh request each time: tenants, ids and keys rotate through the workload
    requests: [{ setupRequest: (req) => ({ ...req, ...workload() }), ...(settings.countCacheHits ? { onResponse } : {}) }],
    timeout: 10,
  });
  const cpuAfter = settings.cpu?.();
  const dbUsed = dbSince?.();
  const responses = result['2xx'] + result.non2xx;
  const perResponse = (before: number | undefined, after: number | undefined) =>
    before !== undefined && after !== undefined && responses > 0 ? (after - before) / responses : undefined;
  const cpu = perResponse(cpuBefore, cpuAfter);
  const dbCpu = dbUsed === undefined ? undefined : perResponse(0, dbUsed);
  const seconds = Math.max(result.duration, 1e-3);
  return {
    rps: result['2xx'] / seconds,
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    errors: result.errors + result.non2xx,
    ...(settings.countCacheHits ? { cache_hit_ratio: answered === 0 ? 0 : hits / answered } : {}),
    ...(cpu !== undefined ? { cpu_us_per_req: cpu } : {}),
    ...(dbCpu !== undefined ? { db_cpu_us_per_req: dbCpu } : {}),
  };
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function optionalMedian(rounds: readonly RoundResult[], key: 'cache_hit_ratio' | 'replica_share' | 'cpu_us_per_req' | 'db_cpu_us_per_req'): Partial<RoundResult> {
  const values = rounds.map((r) => r[key]).filter((v): v is number => v !== undefined);
  return values.length === 0 ? {} : { [key]: median(values) };
}

/** Median rps / p50 / p99 across rounds (each round is a separate, alternated run); errors summed. */
export function summarize(rounds: readonly RoundResult[]): RoundResult {
  return {
    rps: median(rounds.map((r) => r.rps)),
    p50_ms: median(rounds.map((r) => r.p50_ms)),
    p99_ms: median(rounds.map((r) => r.p99_ms)),
    errors: rounds.reduce((sum, r) => sum + r.errors, 0),
    ...optionalMedian(rounds, 'cache_hit_ratio'),
    ...optionalMedian(rounds, 'replica_share'),
    ...optionalMedian(rounds, 'cpu_us_per_req'),
    ...optionalMedian(rounds, 'db_cpu_us_per_req'),
  };
}
