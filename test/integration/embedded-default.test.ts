import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { http } from '../support/test-cluster.js';

const ROOT = path.resolve(__dirname, '..', '..');

/** Starts `src/main.ts` the way `npm start` does, with no catalog configured. */
function startEmbedded(dataDir: string, configFile: string): { child: ChildProcess; output: () => string; ready: Promise<void> } {
  let out = '';
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', './src/instrument.ts', 'src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: 'development', GATEWAY_CONFIG: configFile, GATEWAY_ADMIN_TOKEN: '', HOST: '', SHARDGATE_TEST_CLUSTER: '', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (/curl -s http:\/\/\S+\/v1\/users/.test(out)) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`embedded gateway exited with ${code}:\n${out}`)));
  });
  return { child, output: () => out, ready };
}

/** True when nothing listens on that address (the connection is refused), false when something answers. */
function connectRefused(to: { host: string; port: number }): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(to, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNREFUSED' ? resolve(true) : reject(err)));
  });
}

async function stop(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}

describe('embedded default (npm start with no services)', function () {
  // a first start runs initdb for three PGlite instances in WebAssembly: slow on a busy 2-core box
  this.timeout(360_000);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sg-embedded-default-'));
  const configFile = path.join(dataDir, 'config.json');
  // no host: the embedded default's own (loopback only) is what is under test
  writeFileSync(configFile, JSON.stringify({ port: 0, adminPort: 0, embedded: { dataDir: path.join(dataDir, 'data'), shardCount: 2 } }));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('serves the demo tenant, prints a working curl line, and keeps data across restarts', async () => {
    const first = startEmbedded(dataDir, configFile);
    let userId: string;
    let key: string;
    try {
      await first.ready;
      const text = first.output();
      key = /API key: (sg_\S+)/.exec(text)![1]!;
      const base = /tenant API: (http:\/\/\S+)/.exec(text)![1]!;
      const adminBase = /admin API: (http:\/\/\S+)/.exec(text)![1]!;
      const adminToken = /admin token: (\S+)/.exec(text)![1]!;
      expect(text).to.match(/curl -s -X POST http:\/\/\S+\/v1\/users/);

      const created = await http('POST', `${base}/v1/users`, {
        headers: { authorization: `Bearer ${key}` },
        body: { username: 'alice', email: 'alice@example.com', password: 'correct horse battery' },
      });
      expect(created.status, created.text).to.equal(201);
      userId = created.body.id as string;
      const got = await http('GET', `${base}/v1/users/${userId}`, { headers: { authorization: `Bearer ${key}` } });
      expect(got.status).to.equal(200);
      expect(got.headers.get('x-served-by')).to.equal('primary');

      const tenant = await http('GET', `${adminBase}/admin/tenants/demo`, { headers: { authorization: `Bearer ${adminToken}` } });
      expect(tenant.status).to.equal(200);
      expect(tenant.body.shard).to.match(/^shard-[12]$/);

      // the model depth runs on the embedded default too: an address, a comment, time series on partitions
      const addressed = await http('PATCH', `${base}/v1/users/${userId}`, {
        headers: { authorization: `Bearer ${key}` },
        body: { address: { line1: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US' } },
      });
      expect([addressed.status, (addressed.body.address as { country?: string } | null)?.country], addressed.text).to.deep.equal([200, 'US']);
      const comment = await http('POST', `${base}/v1/users/${userId}/comments`, { headers: { authorization: `Bearer ${key}` }, body: { body: 'hello' } });
      expect(comment.status, comment.text).to.equal(201);
      const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000;
      const points = [0, 1, 2].map((i) => ({ series: 'demo.temp', ts: hour - 3_600_000 + i * 60_000, value: 20 + i }));
      const ingested = await http('POST', `${base}/v1/series`, { headers: { authorization: `Bearer ${key}` }, body: { points } });
      expect(ingested.status, ingested.text).to.equal(200);
      const series = await http('GET', `${base}/v1/series/demo.temp?from=${hour - 3_600_000}&to=${hour}&step=1h&agg=avg`, { headers: { authorization: `Bearer ${key}` } });
      expect(series.body.points, series.text).to.deep.equal([{ ts: new Date(hour - 3_600_000).toISOString(), value: 21 }]);

      // transfers between tenants, by both protocols (prepared transactions are on in PGlite)
      const admin = { authorization: `Bearer ${adminToken}` };
      const supplier = await http('POST', `${adminBase}/admin/tenants`, { headers: admin, body: { name: 'supplier' } });
      expect(supplier.status, supplier.text).to.equal(201);
      const skey = { authorization: `Bearer ${String(supplier.body.apiKey)}` };
      expect((await http('POST', `${adminBase}/admin/partnerships`, { headers: admin, body: { supplier: supplier.body.id, buyer: 'demo' } })).status).to.equal(201);
      const from = await http('POST', `${base}/v1/products`, { headers: skey, body: { name: 'traded', price: 1, stock: 10 } });
      const into = await http('POST', `${base}/v1/products`, { headers: { authorization: `Bearer ${key}` }, body: { name: 'bought', price: 1, stock: 0 } });
      for (const protocol of ['saga', '2pc']) {
        const moved = await http('POST', `${base}/v1/transfers`, {
          headers: { authorization: `Bearer ${key}` },
          body: { supplier: supplier.body.id, protocol, items: [{ productId: from.body.id, quantity: 3, intoProductId: into.body.id }] },
        });
        expect([moved.status, moved.body.state], moved.text).to.deep.equal([201, 'committed']);
      }
      const bought = await http('GET', `${base}/v1/products/${String(into.body.id)}`, { headers: { authorization: `Bearer ${key}`, 'x-consistency': 'strong' } });
      expect(bought.body.stock).to.equal(6);

      // both listeners are bound to 127.0.0.1 alone: another address of this host is refused
      for (const url of [base, adminBase]) {
        expect(new URL(url).hostname).to.equal('127.0.0.1');
        expect(await connectRefused({ host: '127.0.0.2', port: Number(new URL(url).port) }), url).to.equal(true);
      }
    } finally {
      expect(await stop(first.child)).to.equal(0);
    }

    const second = startEmbedded(dataDir, configFile);
    try {
      await second.ready;
      const base = /tenant API: (http:\/\/\S+)/.exec(second.output())![1]!;
      const again = await http('GET', `${base}/v1/users/${userId}`, { headers: { authorization: `Bearer ${key}` } });
      expect(again.status).to.equal(200);
      expect(again.body.username).to.equal('alice');
    } finally {
      expect(await stop(second.child)).to.equal(0);
    }
  });
});
