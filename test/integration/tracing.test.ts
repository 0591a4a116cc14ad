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
  });

  it('records the replica and the reason on reads', async () => {
    const spans = await traced('GET', '/v1/users');
    const server = spans.find((s) => s.kind === SpanKind.SERVER)!;
    expect(server.attributes['gateway.db.role']).to.be.oneOf(['replica', 'primary']);
    expect(server.attributes['gateway.route.reason']).to.be.oneOf(['lag_ok', 'no_healthy_replica']);
    if (server.attributes['gateway.db.role'] === 'replica') expect(server.attributes['gateway.db.replica']).to.be.a('string');
  });
});
