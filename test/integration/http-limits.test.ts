import { expect } from 'chai';
import net from 'node:net';
import { ADMIN_TOKEN, TestGateway, http } from '../support/test-cluster.js';
import { parseRawAnswer, rawExchange } from '../support/raw-http.js';

function portOf(url: string): number {
  return Number(new URL(url).port);
}

function expectRequestTimeout(raw: string): void {
  const answer = parseRawAnswer(raw);
  expect(answer.status, raw).to.equal(408);
  expect(answer.headers).to.match(/content-type: application\/problem\+json/i);
  expect(answer.body).to.include({ code: 'REQUEST_TIMEOUT', status: 408 });
}

/** The counter's value for one listener in a Prometheus text scrape. */
function refusedCount(metrics: string, listener: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith(`shardgate_http_connections_refused_total{listener="${listener}"}`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

describe('HTTP listeners: slow requests time out, connections are capped', function () {
  this.timeout(60_000);

  describe('timeouts', () => {
    let gw: TestGateway;
    before(async () => {
      gw = await TestGateway.start({ http: { requestTimeoutMs: 1_500, headersTimeoutMs: 600, adminRequestTimeoutMs: 4_000 } });
    });
    after(async () => gw?.stop());

    it('answers headers that never finish with 408 problem+json and closes', async () => {
      const exchange = await rawExchange(portOf(gw.gateway.tenantUrl), 'GET /v1/users HTTP/1.1\r\nHost: x\r\nX-Slow: ');
      expectRequestTimeout(exchange.received);
      expect(exchange.closedAfterMs).to.be.within(500, 5_000);
    });

    it('answers a body that never finishes with 408 problem+json once the request timeout passes', async () => {
      const tenant = await gw.createTenant('slow-body');
      const head = `POST /v1/products HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${tenant.apiKey}\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n`;
      const exchange = await rawExchange(portOf(gw.gateway.tenantUrl), `${head}{"name": "half a prod`);
      expectRequestTimeout(exchange.received);
      expect(exchange.closedAfterMs).to.be.within(1_400, 6_000);
      // nothing was written, and the tenant is served as before
      const list = await tenant.request('GET', '/v1/products');
      expect(list.status, list.text).to.equal(200);
      expect(list.body.items).to.deep.equal([]);
    });

    it('gives the admin listener its own, longer request timeout', async () => {
      const head = `POST /admin/tenants HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{`;
      const exchange = await rawExchange(portOf(gw.gateway.adminUrl), head);
      expectRequestTimeout(exchange.received);
      expect(exchange.closedAfterMs).to.be.within(3_800, 9_000);
    });

    it('adds no second answer to a request already answered before its body came', async () => {
      // no credentials: 401 at once; the body then never finishes
      const head = 'POST /v1/products HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{';
      const exchange = await rawExchange(portOf(gw.gateway.tenantUrl), head);
      expect(parseRawAnswer(exchange.received).status).to.equal(401);
      expect(exchange.received.match(/HTTP\/1\.1 /g)).to.have.length(1);
      expect(exchange.closedAfterMs).to.be.within(1_400, 6_000);
    });
  });

  describe('connection cap', () => {
    let gw: TestGateway;
    const open: net.Socket[] = [];
    before(async () => {
      gw = await TestGateway.start({ http: { maxConnections: 2, adminMaxConnections: 4 } });
    });
    after(async () => {
      for (const s of open) s.destroy();
      await gw?.stop();
    });

    it('closes connections beyond http.maxConnections at once, counts them, and serves again when one closes', async () => {
      const port = portOf(gw.gateway.tenantUrl);
      const before = refusedCount((await http('GET', `${gw.gateway.adminUrl}/metrics`)).text, 'tenant');
      for (let i = 0; i < 2; i++) {
        const s = net.connect(port, '127.0.0.1');
        await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject));
        open.push(s);
      }
      // the connections count once the server has accepted them: give the event loop a turn
      await new Promise((r) => setTimeout(r, 100));
      const refused = await rawExchange(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', 5_000);
      expect(refused.received).to.equal('');
      expect(refused.closedAfterMs).to.be.below(2_000);
      const refusedAgain = await rawExchange(port, '', 5_000);
      expect(refusedAgain.received).to.equal('');

      const metrics = (await http('GET', `${gw.gateway.adminUrl}/metrics`)).text;
      expect(refusedCount(metrics, 'tenant') - before).to.equal(2);
      expect(refusedCount(metrics, 'admin')).to.equal(0);

      open.shift()!.destroy();
      await new Promise((r) => setTimeout(r, 100));
      const served = await http('GET', `${gw.gateway.tenantUrl}/healthz`, { headers: { connection: 'close' } });
      expect(served.status).to.equal(200);
    });
  });
});
