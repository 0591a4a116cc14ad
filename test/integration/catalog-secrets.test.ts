import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ADMIN_TOKEN, http, sql, testCluster, type HttpResult, type Json } from '../support/test-cluster.js';
import { hasSpareShards, privateCatalog, spareShards } from '../support/moves.js';
import { startProcess, type Running } from '../support/gateway-process.js';

/** The URL with its password replaced by a `${env:NAME}` reference (braces as written). */
const withReference = (url: string, name: string): string => {
  const u = new URL(url);
  u.password = 'REFERENCE';
  return u.toString().replace('REFERENCE', `\${env:${name}}`);
};

// Whoever reads the catalog's database (a backup of it, a replica, an operator's psql)
// must not learn a shard's password: configured passwords are kept as references to the
// gateway's environment, any other one is sealed under the encryption keyring.
describe('the catalog holds no shard password', function () {
  this.timeout(120_000);
  let catalog: Awaited<ReturnType<typeof privateCatalog>>;
  let proc: Running | undefined;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sg-catalog-secrets-'));
  const cluster = testCluster();
  const password = decodeURIComponent(new URL(cluster.shards[0]!.primary).password);
  // shard-1 names its password by reference; the others carry theirs in the file
  const shards = cluster.shards.map((s, i) =>
    i === 0 ? { ...s, primary: withReference(s.primary, 'SHARD_ONE_PW'), replicas: s.replicas.map((r) => withReference(r, 'SHARD_ONE_PW')) } : s,
  );
  const start = () => startProcess(dir, { catalog: catalog.url, shards }, { SHARD_ONE_PW: password });
  const admin = (method: string, p: string, body?: unknown): Promise<HttpResult> =>
    http(method, proc!.adminUrl + p, { body, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  const stored = async () => sql<{ id: string; text: string }>(catalog.url, 'SELECT id, row_to_json(s)::text AS text FROM shards s ORDER BY id');
  const allHealthy = async (ids: string[]) => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const res = await admin('GET', '/admin/shards');
      const listed = (res.body as unknown as Json[]).filter((s) => ids.includes(s.id as string));
      const healthy = listed.every((s) => (s.primary as Json).healthy === true && (s.replicas as Json[]).every((r) => r.healthy === true));
      if (listed.length === ids.length && healthy) return;
      if (Date.now() > deadline) throw new Error(`shards not healthy: ${res.text}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };

  before(async () => {
    expect(password, 'the test cluster serves requests with a password-protected role').not.to.equal('');
    catalog = await privateCatalog();
  });
  afterEach(async () => {
    proc?.child.kill('SIGTERM');
    await proc?.exited;
    proc = undefined;
  });
  after(async () => {
    await catalog?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores references as written and seals literal passwords, and every shard is still reached', async () => {
    proc = await start();
    const rows = await stored();
    expect(rows.map((r) => r.id)).to.deep.equal(cluster.shards.map((s) => s.id).sort());
    for (const row of rows) {
      expect(row.text, row.id).not.to.include(password);
      expect(row.text, row.id).not.to.include(encodeURIComponent(password));
    }
    expect(rows[0]!.text).to.include('${env:SHARD_ONE_PW}');
    expect(rows[1]!.text).to.match(/shardgate_app:sg1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+@/);
    await allHealthy(cluster.shards.map((s) => s.id));

    const created = await admin('POST', '/admin/tenants', { name: 'sealed', id: `sealed-${Date.now()}` });
    expect(created.status, created.text).to.equal(201);
    const write = await http('POST', `${proc.tenantUrl}/v1/products`, {
      headers: { authorization: `Bearer ${created.body.apiKey as string}` },
      body: { name: 'served', price: '1.00', stock: 1 },
    });
    expect(write.status, write.text).to.equal(201);
  });

  it('a restarted gateway opens what it sealed and leaves the rows as they are', async () => {
    const before = await stored();
    proc = await start();
    await allHealthy(cluster.shards.map((s) => s.id));
    // nothing to reseal: the same key, the same nodes, the same passwords
    expect(await stored()).to.deep.equal(before);
  });

  it("a gateway whose keyring cannot open a configured shard's sealed password rewrites it from its configuration", async () => {
    const other = `other:${Buffer.alloc(32, 9).toString('base64')}`;
    proc = await startProcess(dir, { catalog: catalog.url, shards }, { SHARD_ONE_PW: password, SHARDGATE_ENCRYPTION_KEYS: other });
    await allHealthy(cluster.shards.map((s) => s.id));
    const rows = await stored();
    expect(rows[1]!.text, 'resealed under the key this gateway holds').to.match(/shardgate_app:sg1\.other\./);
    for (const row of rows) expect(row.text).not.to.include(password);
  });

  it('seals the password of a shard added through the admin API', async function () {
    if (!hasSpareShards()) this.skip();
    proc = await start();
    const spare = spareShards()[0]!;
    const sparePassword = decodeURIComponent(new URL(spare.primary).password);
    const res = await admin('POST', '/admin/shards', { ...spare, id: 'shard-sealed' });
    expect(res.status, res.text).to.equal(201);
    const row = (await stored()).find((r) => r.id === 'shard-sealed')!;
    expect(row.text).not.to.include(sparePassword);
    expect(row.text).to.match(/sg1\./);
    await allHealthy(['shard-sealed']);
  });

  it('a gateway without the referenced variable refuses to start, naming it', async () => {
    const run = startProcess(dir, { catalog: catalog.url, shards }, { SHARD_ONE_PW: '' });
    const failure = await run.then(
      (p) => {
        proc = p;
        return undefined;
      },
      (err: Error) => err.message,
    );
    expect(failure).to.match(/SHARD_ONE_PW/);
  });
});
