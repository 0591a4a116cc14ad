import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ADMIN_TOKEN, http, testCluster } from '../support/test-cluster.js';
import { startProcess } from '../support/gateway-process.js';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: Array<{ key: string; value: { stringValue?: string; intValue?: string | number } }>;
}

/** A tiny OTLP/HTTP JSON receiver standing in for a collector. */
async function receiver(): Promise<{ server: Server; url: string; spans: OtlpSpan[] }> {
  const spans: OtlpSpan[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (req.url === '/v1/traces') {
        const parsed = JSON.parse(body) as { resourceSpans?: Array<{ scopeSpans?: Array<{ spans?: OtlpSpan[] }> }> };
        for (const rs of parsed.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) spans.push(...(ss.spans ?? []));
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans };
}

const attr = (span: OtlpSpan, key: string) => span.attributes?.find((a) => a.key === key)?.value.stringValue;

describe('OTLP/HTTP JSON export to a local receiver', function () {
  this.timeout(120_000);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sg-otlp-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('exports the request’s trace: tagged server span, pg spans under it, W3C traceparent honoured', async () => {
    testCluster();
    const sink = await receiver();
    const gw = await startProcess(dir, {}, {
      OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_SERVICE_NAME: 'shardgate-otlp-test',
    });
    try {
      const tenant = await http('POST', `${gw.adminUrl}/admin/tenants`, { body: { name: 'otlp' }, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      const traceId = randomBytes(16).toString('hex');
      const res = await http('POST', `${gw.tenantUrl}/v1/users`, {
        body: { username: 'otlp', email: 'otlp@example.com', password: 'long enough pw' },
        headers: { authorization: `Bearer ${tenant.body.apiKey as string}`, traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` },
      });
      expect(res.status).to.equal(201);
      let mine: OtlpSpan[] = [];
      for (let i = 0; i < 100; i++) {
        mine = sink.spans.filter((s) => s.traceId.toLowerCase() === traceId);
        if (mine.some((s) => s.kind === 2) && mine.some((s) => attr(s, 'db.system') === 'postgresql' || attr(s, 'db.system.name') === 'postgresql')) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const server = mine.find((s) => s.kind === 2); // SPAN_KIND_SERVER
      expect(server, 'server span exported').to.not.equal(undefined);
      expect(attr(server!, 'gateway.tenant.id')).to.equal(tenant.body.id);
      expect(attr(server!, 'gateway.shard.id')).to.equal(tenant.body.shard);
      expect(attr(server!, 'gateway.db.role')).to.equal('primary');
      const byId = new Map(mine.map((s) => [s.spanId, s]));
      const pg = mine.filter((s) => attr(s, 'gateway.shard.id') !== undefined && s.kind === 3); // CLIENT
      expect(pg.length).to.be.greaterThan(0);
      for (const span of pg) {
        let parent = span.parentSpanId ? byId.get(span.parentSpanId) : undefined;
        while (parent && parent !== server) parent = parent.parentSpanId ? byId.get(parent.parentSpanId) : undefined;
        expect(parent, `${span.name} descends from the server span`).to.equal(server);
      }
    } finally {
      gw.child.kill('SIGTERM');
      await gw.exited;
      sink.server.close();
    }
  });
});
