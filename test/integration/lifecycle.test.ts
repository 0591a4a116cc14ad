import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ADMIN_TOKEN, TestGateway, http, testCluster } from '../support/test-cluster.js';
import { RedisServer } from '../support/redis-server.js';
import { startProcess } from '../support/gateway-process.js';

describe('lifecycle: graceful shutdown and a Redis outage', function () {
  this.timeout(120_000);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sg-lifecycle-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('SIGTERM: readiness goes 503, requests are still served during the drain delay, then exit 0', async () => {
    testCluster();
    const gw = await startProcess(dir, { http: { drainDelayMs: 1500 } });
    const tenant = await http('POST', `${gw.adminUrl}/admin/tenants`, { body: { name: 'drain' }, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const auth = { authorization: `Bearer ${tenant.body.apiKey as string}` };
    expect((await http('GET', `${gw.tenantUrl}/readyz`)).status).to.equal(200);
    gw.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    const ready = await http('GET', `${gw.tenantUrl}/readyz`);
    expect(ready.status).to.equal(503);
    expect((await http('GET', `${gw.tenantUrl}/v1/users`, { headers: auth })).status).to.equal(200);
    expect(await gw.exited).to.equal(0);
  });

  it('a second SIGTERM exits at once', async () => {
    const gw = await startProcess(dir, { http: { drainDelayMs: 30_000 } });
    gw.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    gw.child.kill('SIGTERM');
    await gw.exited;
    expect(Date.now() - started).to.be.below(5000);
  });

  it('with its Redis killed mid-test, every request still succeeds, and caching resumes when Redis is back', async () => {
    const redis = await RedisServer.start();
    const gw = await TestGateway.start({ redis: redis.url });
    try {
      const t = await gw.createTenant();
      const created = await t.request('POST', '/v1/products', { body: { name: 'r', price: 1, stock: 1 } });
      const id = created.body.id as string;
      for (let i = 0; i < 3; i++) await t.request('GET', `/v1/products/${id}`);
      await redis.kill();
      for (let i = 0; i < 20; i++) {
        const started = Date.now();
        const res = i % 4 === 0 ? await t.request('PATCH', `/v1/products/${id}`, { body: { stock: i } }) : await t.request('GET', `/v1/products/${id}`);
        expect(res.status, res.text).to.equal(200);
        expect(Date.now() - started, 'a request waited on the dead Redis').to.be.below(1500);
      }
      await redis.restart();
      let hit = false;
      for (let i = 0; i < 100 && !hit; i++) {
        hit = (await t.request('GET', `/v1/products/${id}`)).headers.get('x-cache') === 'hit';
        if (!hit) await new Promise((r) => setTimeout(r, 100));
      }
      expect(hit, 'cache hits again after Redis is back').to.equal(true);
    } finally {
      await gw.stop();
      await redis.kill();
    }
  });
});
