/**
 * The time-series scenario (issue 15, item 5): a tenant with ≥ 1,000,000 points over 30
 * days, ingested through the HTTP API in batches of 10,000 (the ingest rate is measured on
 * that very load), then a 30-day, 1-hour-step query of its series timed again and again.
 * Through the tenant API only, so it measures whatever the gateway does. Targets (never
 * asserted): ingest ≥ 50,000 points/s, the query ≤ 100 ms p50.
 */
import { expectStatus, pool, request } from './http.js';

export interface SeriesResult {
  /** points a second over the whole ingest, batches of 10,000, `concurrency` in flight */
  readonly ingest_points_per_s: number;
  readonly ingest_seconds: number;
  readonly ingest_concurrency: number;
  /** CPU per 10,000 points ingested: the gateway process, and every process of the shards' PostgreSQL servers (replicas' replay included); null where not measurable */
  readonly ingest_gateway_cpu_ms_per_10k: number | null;
  readonly ingest_db_cpu_ms_per_10k: number | null;
  /** points the tenant holds (GET /v1/series) */
  readonly points: number;
  /** 30 days, 1 h step, agg avg: client-side latency */
  readonly query_30d_1h_p50_ms: number;
  readonly query_30d_1h_p95_ms: number;
  readonly query_runs: number;
  /** the percentile variant of the same query (reads raw points, not rollups) */
  readonly query_30d_1h_p95agg_p50_ms: number;
}

export interface SeriesEnv {
  readonly tenantUrl: string;
  readonly adminUrl: string;
  readonly adminToken: string;
  readonly say: (text: string) => void;
  /** the gateway's CPU so far (µs) */
  readonly gatewayCpu: () => number | undefined;
  /** starts a measure of the database servers' CPU; calling the result ends it (µs) */
  readonly dbCpu: () => (() => number | undefined) | undefined;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const BATCH = 10_000;

function median(values: number[], p = 0.5): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

export async function seriesScenario(env: SeriesEnv, settings: { readonly points: number; readonly queries: number; readonly concurrency: number }): Promise<SeriesResult> {
  const admin = { authorization: `Bearer ${env.adminToken}` };
  // a tenant of its own each run: the ingest measures new points, not a re-post of the last run's
  const tenant = `bench-series-${Date.now().toString(36)}`;
  const created = await request('POST', `${env.adminUrl}/admin/tenants`, admin, { id: tenant, name: 'bench: time series' });
  if (created.status !== 201) throw new Error(`create ${tenant}: ${created.status} ${JSON.stringify(created.body)}`);
  const key = await expectStatus('a key for the series tenant', 201, request('POST', `${env.adminUrl}/admin/tenants/${tenant}/keys`, admin));
  const auth = { authorization: `Bearer ${(key.body as { apiKey: string }).apiKey}` };

  // one point every `spacing` ms over the last 30 days (less an hour: inside retention), two hosts
  const end = Math.floor(Date.now() / HOUR) * HOUR;
  const start = end - 30 * DAY + HOUR;
  const spacing = Math.max(1, Math.floor((end - start) / settings.points));
  const batches = Math.ceil(settings.points / BATCH);
  env.say(`series: ${settings.points} points in ${batches} batches of ${BATCH}, ${settings.concurrency} in flight`);
  const began = performance.now();
  const gatewayBefore = env.gatewayCpu();
  const dbEnd = env.dbCpu();
  await pool(
    Array.from({ length: batches }, (_, b) => b),
    settings.concurrency,
    async (b) => {
      const points = [];
      for (let i = b * BATCH; i < Math.min(settings.points, (b + 1) * BATCH); i++) {
        points.push({ series: 'bench.cpu', ts: start + i * spacing, value: 50 + 40 * Math.sin(i / 500) + (i % 7), labels: { host: i % 2 === 0 ? 'a' : 'b' } });
      }
      await expectStatus(`series batch ${b}`, 200, request('POST', `${env.tenantUrl}/v1/series`, auth, { points }));
    },
  );
  const seconds = (performance.now() - began) / 1000;
  const gatewayAfter = env.gatewayCpu();
  const dbUs = dbEnd?.();
  const per10k = (us: number | undefined) => (us === undefined ? null : Math.round(us / 1000 / (settings.points / BATCH)));

  const listed = await expectStatus('GET /v1/series', 200, request('GET', `${env.tenantUrl}/v1/series`, { ...auth, 'x-consistency': 'strong' }));
  const points = (listed.body as { items: Array<{ series: string; points: number }> }).items.find((s) => s.series === 'bench.cpu')?.points ?? 0;

  const time = async (agg: string): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < settings.queries; i++) {
      const t0 = performance.now();
      const res = await request('GET', `${env.tenantUrl}/v1/series/bench.cpu?from=${end - 30 * DAY}&to=${end}&step=1h&agg=${agg}`, { ...auth, 'x-consistency': 'strong' });
      const ms = performance.now() - t0;
      if (res.status !== 200 || (res.body as { points: unknown[] }).points.length !== 720) throw new Error(`series query: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
      if (i > 0) out.push(ms); // the first warms the connection and the plan
    }
    return out;
  };
  const avg = await time('avg');
  const p95 = await time('p95');
  return {
    ingest_points_per_s: Math.round(settings.points / seconds),
    ingest_seconds: Math.round(seconds * 10) / 10,
    ingest_concurrency: settings.concurrency,
    ingest_gateway_cpu_ms_per_10k: per10k(gatewayBefore === undefined || gatewayAfter === undefined ? undefined : gatewayAfter - gatewayBefore),
    ingest_db_cpu_ms_per_10k: per10k(dbUs),
    points,
    query_30d_1h_p50_ms: Math.round(median(avg) * 10) / 10,
    query_30d_1h_p95_ms: Math.round(median(avg, 0.95) * 10) / 10,
    query_runs: avg.length,
    query_30d_1h_p95agg_p50_ms: Math.round(median(p95) * 10) / 10,
  };
}
