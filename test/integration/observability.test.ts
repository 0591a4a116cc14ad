import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { SpanKind } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { TestGateway, TestTenant, http, sql, testCluster, ADMIN_TOKEN } from '../support/test-cluster.js';
import { spanExporter } from '../support/telemetry.js';
import { createLogger } from '../../src/telemetry/logger.js';

/** Parses Prometheus text into samples: name, labels, value. */
function parseMetrics(text: string): Array<{ name: string; labels: Record<string, string>; value: number }> {
  const samples = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`unparseable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

describe('observability: metrics, span tree, logs without secrets', function () {
  this.timeout(60_000);
  const logLines: string[] = [];
  let gw: TestGateway;
  let tenant: TestTenant;
  before(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        logLines.push(chunk.toString());
        done();
      },
    });
    gw = await TestGateway.start({ log: { slowQueryMs: 0 } }, createLogger('debug', sink));
    tenant = await gw.createTenant();
  });
  after(async () => {
    await gw?.stop();
  });

  async function traced(method: string, path: string, options: { body?: unknown; headers?: Record<string, string> } = {}): Promise<ReadableSpan[]> {
    const traceId = randomBytes(16).toString('hex');
    await tenant.request(method, path, { ...options, headers: { ...options.headers, traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` } });
    await new Promise((r) => setTimeout(r, 50));
    return spanExporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
  }

  function ancestors(span: ReadableSpan, all: ReadableSpan[]): ReadableSpan[] {
    const out: ReadableSpan[] = [];
    let parentId = span.parentSpanContext?.spanId;
    while (parentId) {
      const parent = all.find((s) => s.spanContext().spanId === parentId);
      if (!parent) break;
      out.push(parent);
      parentId = parent.parentSpanContext?.spanId;
    }
    return out;
  }

  it('nests every pg span under the request’s server span and tags it with the shard', async () => {
    const spans = await traced('POST', '/v1/users', { body: { username: 'spans', email: 'spans@example.com', password: 'long enough pw' } });
    const server = spans.find((s) => s.kind === SpanKind.SERVER)!;
    const isPg = (s: ReadableSpan) => s.attributes['db.system'] === 'postgresql' || s.attributes['db.system.name'] === 'postgresql' || s.name.startsWith('pg.');
    const database = (s: ReadableSpan) => s.attributes['db.namespace'] ?? s.attributes['db.name'];
    // the catalog lookup of the API key runs before routing; every shard query is tagged
    const pg = spans.filter((s) => isPg(s) && database(s) !== 'shardgate_catalog');
    expect(pg.length).to.be.greaterThan(0);
    for (const span of pg) {
      expect(ancestors(span, spans)).to.include(server);
      // a connection opened for the request (pg.connect, a cold pool) is under it too, but the
      // pg instrumentation's requestHook, which tags spans, runs for statements only
      if (span.name === 'pg.connect' || span.name.startsWith('pg-pool.')) continue;
      expect(span.attributes['gateway.shard.id'], `${span.name} ${String(span.attributes['db.statement'] ?? span.attributes['db.query.text'] ?? '')}`).to.equal(tenant.shard);
      expect(span.attributes['gateway.db.role']).to.equal('primary');
    }
  });

  it('marks a token-forced primary read and an error on the server span', async () => {
    const created = await tenant.createUser();
    const spans = await traced('GET', `/v1/users/${created.body.id}`, { headers: { 'x-consistency': 'strong' } });
    const server = spans.find((s) => s.kind === SpanKind.SERVER)!;
    expect(server.attributes).to.include({ 'gateway.db.role': 'primary', 'gateway.route.reason': 'strong' });
    const failed = await traced('GET', '/v1/users/0190a4b8-0000-7000-8000-000000000000', { headers: { 'x-consistency': 'strong' } });
    const failedServer = failed.find((s) => s.kind === SpanKind.SERVER)!;
    expect(failedServer.attributes['http.response.status_code'] ?? failedServer.attributes['http.status_code']).to.equal(404);
  });

  it('exposes the contract’s Prometheus metrics, moving with traffic', async () => {
    const scrape = async () => parseMetrics((await http('GET', `${gw.gateway.adminUrl}/metrics`)).text);
    await tenant.request('GET', '/v1/users');
    const before = await scrape();
    for (let i = 0; i < 5; i++) await tenant.request('GET', '/v1/users');
    const after = await scrape();
    const count = (samples: ReturnType<typeof parseMetrics>) =>
      samples.filter((s) => s.name === 'shardgate_http_request_duration_seconds_count' && s.labels.route === '/v1/users' && s.labels.status === '200').reduce((a, s) => a + s.value, 0);
    expect(count(after) - count(before)).to.equal(5);
    const names = new Set(after.map((s) => s.name));
    for (const name of [
      'shardgate_http_request_duration_seconds_bucket',
      'shardgate_db_query_duration_seconds_bucket',
      'shardgate_replica_lag_seconds',
      'shardgate_replica_healthy',
      'shardgate_db_pool_connections',
      'shardgate_process_cpu_user_seconds_total',
    ]) expect(names, name).to.include(name);
    const http200 = after.find((s) => s.name === 'shardgate_http_request_duration_seconds_count' && s.labels.route === '/v1/users')!;
    expect(http200.labels).to.include({ shard: tenant.shard });
    const lag = after.filter((s) => s.name === 'shardgate_replica_healthy');
    expect(lag.map((s) => s.labels.shard).sort()).to.include.members(['shard-1', 'shard-2', 'shard-3']);
    const db = after.find((s) => s.name === 'shardgate_db_query_duration_seconds_count' && s.labels.shard === tenant.shard);
    expect(db?.value).to.be.greaterThan(0);
  });

  it('puts the trace context into SQL (sqlcommenter) so pg_stat_activity can name the request', async () => {
    const spans = await traced('GET', '/v1/users', { headers: { 'x-consistency': 'strong' } });
    const pg = spans.find((s) => typeof (s.attributes['db.query.text'] ?? s.attributes['db.statement']) === 'string');
    expect(pg, 'a pg span with its statement').to.not.equal(undefined);
    // the comment is added to the text sent, after the span recorded it; check the server saw it
    const primary = testCluster().shards.find((s) => s.id === tenant.shard)!.admin.primary;
    const rows = await sql<{ query: string }>(primary, `SELECT query FROM pg_stat_activity WHERE application_name LIKE 'shardgate:%' AND query LIKE '%traceparent=%' LIMIT 1`);
    // idle connections keep their last statement: at least one carries a trace comment
    expect(rows.length).to.equal(1);
  });

  it('never logs secrets: passwords, API keys, tax ids, the admin token', async () => {
    const password = `pw-${randomBytes(8).toString('hex')}`;
    const taxId = `TAX${randomBytes(6).toString('hex')}`;
    await tenant.createUser({ password, taxId });
    await tenant.request('POST', '/v1/users', { body: { username: 'x', email: 'bad', password } }); // a 400 too
    await http('GET', `${gw.gateway.tenantUrl}/v1/users`, { headers: { authorization: `Bearer ${tenant.apiKey}x` } });
    const text = logLines.join('');
    expect(logLines.length).to.be.greaterThan(5); // debug request lines and slow-query lines were written
    expect(text).to.include('slow query');
    for (const secret of [password, taxId, tenant.apiKey, ADMIN_TOKEN]) expect(text).not.to.include(secret);
    expect(text).not.to.match(/scrypt\$/);
    expect(text).not.to.match(/enc[12]:/);
  });
});
