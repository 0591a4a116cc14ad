import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { TestGateway, TestTenant } from '../support/test-cluster.js';
import { spanExporter } from '../support/telemetry.js';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { SpanKind } from '@opentelemetry/api';

describe('tracing: one trace per request, tagged with tenant, shard and role', function () {
  let gw: TestGateway;
  let tenant: TestTenant;
  before(async () => {
    gw = await TestGateway.start();
    tenant = await gw.createTenant();
  });
  after(async () => {
    await gw?.stop();
  });

  async function traced(method: string, path: string, body?: unknown): Promise<ReadableSpan[]> {
    const traceId = randomBytes(16).toString('hex');
    const traceparent = `00-${traceId}-${randomBytes(8).toString('hex')}-01`;
    await tenant.request(method, path, { body, headers: { traceparent } });
    await new Promise((r) => setTimeout(r, 50));
    return spanExporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
  }

  it('tags the server span and nests pg spans in the same trace', async () => {
    const spans = await traced('POST', '/v1/users', { username: 'traced', email: 'traced@example.com', password: 'long enough pw' });
    const server = spans.find((s) => s.kind === SpanKind.SERVER);
    expect(server, 'server span').to.not.equal(undefined);
    expect(server!.attributes).to.include({
      'gateway.tenant.id': tenant.id,
      'gateway.shard.id': tenant.shard,
      'gateway.db.role': 'primary',
      'gateway.route.reason': 'write',
    });
    const names = spans.map((s) => s.name);
    expect(names.some((n) => n.startsWith('pg.query') || /INSERT|SELECT|BEGIN|COMMIT/.test(n)), names.join(', ')).to.equal(true);
    expect(server!.attributes['http.route']).to.equal('/v1/users');
    expect(server!.name).to.equal('POST /v1/users');
    // the stable HTTP conventions the generic instrumentation used to set
    expect(server!.attributes).to.include({ 'http.request.method': 'POST', 'url.path': '/v1/users', 'http.response.status_code': 201, 'url.scheme': 'http' });
    expect(server!.attributes['client.address']).to.be.a('string');
    expect(server!.attributes['server.port']).to.be.a('number');
    // the pg spans are children of the server span
    const pg = spans.filter((s) => s.kind === SpanKind.CLIENT);
    expect(pg.length).to.be.greaterThan(0);
    for (const s of pg) expect(s.parentSpanContext?.spanId, s.name).to.equal(server!.spanContext().spanId);
  });

  it('names an unmatched request by its method alone and leaves out the query string', async () => {
    const spans = await traced('GET', '/v1/nowhere?q=secret-search-text');
    const server = spans.find((s) => s.kind === SpanKind.SERVER)!;
    expect(server.name).to.equal('GET');
    expect(server.attributes['http.response.status_code']).to.equal(404);
    expect(server.attributes['http.route']).to.equal(undefined);
    expect(JSON.stringify(server.attributes)).to.not.include('secret-search-text');
  });

  it('records nothing at all for a request its caller did not sample — no span of its own, no new trace below it', async () => {
    const created = await tenant.request('POST', '/v1/products', { body: { name: 'unsampled', price: 5, stock: 1 } });
    expect(created.status).to.equal(201);
    await new Promise((r) => setTimeout(r, 50));
    spanExporter.reset();
    const traceId = randomBytes(16).toString('hex');
    const traceparent = `00-${traceId}-${randomBytes(8).toString('hex')}-00`;
    // a point read (through the read-through cache, whose spans are the gateway's own) and a write
    expect((await tenant.request('GET', `/v1/products/${created.body.id as string}`, { headers: { traceparent } })).status).to.equal(200);
    expect((await tenant.request('POST', '/v1/products', { body: { name: 'unsampled 2', price: 5, stock: 1 }, headers: { traceparent } })).status).to.equal(201);
    await new Promise((r) => setTimeout(r, 50));
    const spans = spanExporter.getFinishedSpans();
    expect(spans.map((s) => `${s.name} (${s.spanContext().traceId})`)).to.deep.equal([]);
  });

  it('records the replica and the reason on reads', async () => {
    const spans = await traced('GET', '/v1/users');
    const server = spans.find((s) => s.kind === SpanKind.SERVER)!;
    expect(server.attributes['gateway.db.role']).to.be.oneOf(['replica', 'primary']);
    expect(server.attributes['gateway.route.reason']).to.be.oneOf(['lag_ok', 'no_healthy_replica']);
    if (server.attributes['gateway.db.role'] === 'replica') expect(server.attributes['gateway.db.replica']).to.be.a('string');
  });
});
