import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ADMIN_TOKEN, TestGateway, http, testCluster } from '../support/test-cluster.js';
import { hasSpareShards, privateCatalog, spareShards } from '../support/moves.js';
import { startProcess, type Running } from '../support/gateway-process.js';

const withoutPassword = (url: string) => {
  const u = new URL(url);
  u.password = '';
  return u.toString();
};

// POST /admin/shards connects where it is told: it must not be a port scanner, read files
// on the gateway, or lend the fleet's password to a URL that carries none.
describe('shard URLs from the admin API', function () {
  this.timeout(60_000);
  let catalog: Awaited<ReturnType<typeof privateCatalog>>;
  let gw: TestGateway;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sg-shard-urls-'));

  before(async function () {
    if (!hasSpareShards()) this.skip();
    catalog = await privateCatalog();
    gw = await TestGateway.start({ catalog: catalog.url });
  });
  after(async () => {
    await gw?.stop();
    await catalog?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses hosts outside security.shardHosts and file-reading parameters, before dialling anything', async () => {
    const spare = spareShards()[0]!;
    let res = await gw.admin('POST', '/admin/shards', { id: 'shard-x', primary: 'postgres://app:pw@10.255.0.1:5432/shardgate' });
    expect([res.status, res.body.field], res.text).to.deep.equal([400, 'primary']);
    expect(res.body.detail).to.include('security.shardHosts');
    const sslkey = `${spare.admin!.primary}?sslkey=/etc/passwd&sslcert=/etc/passwd`;
    res = await gw.admin('POST', '/admin/shards', { ...spare, id: 'shard-x', admin: { primary: sslkey, replicas: [] } });
    expect([res.status, res.body.field], res.text).to.deep.equal([400, 'admin.primary']);
    expect(res.body.detail).to.include('parameter sslkey is not accepted');
    res = await gw.admin('POST', '/admin/shards', { ...spare, id: 'shard-x', replicas: [`${spare.replicas[0]!}?host=/tmp`] });
    expect([res.status, res.body.field], res.text).to.deep.equal([400, 'replicas[0]']);
  });

  it('says "unreachable" without the driver\'s words: closed port, refused login and open port answer alike', async () => {
    const spare = spareShards()[0]!;
    const redisPort = new URL(testCluster().redis!).port;
    const details = new Set<string>();
    for (const primary of [
      'postgres://postgres@127.0.0.1:1/shardgate', // nothing listens
      `postgres://postgres@127.0.0.1:${redisPort}/shardgate`, // something that is not PostgreSQL
      `postgres://nobody:wrong@${new URL(spare.admin!.primary).host}/shardgate`, // PostgreSQL refusing the login
    ]) {
      const res = await gw.admin('POST', '/admin/shards', { id: 'shard-x', primary });
      expect([res.status, res.body.field], res.text).to.deep.equal([400, 'primary']);
      expect(res.body.detail).not.to.match(/ECONN|password|authentication|role|timeout|terminated|protocol/i);
      details.add(res.body.detail as string);
    }
    expect([...details]).to.have.length(1);
    expect([...details][0]).to.include('unreachable');
  });

  describe('PGPASSWORD', () => {
    let proc: Running | undefined;
    after(() => proc?.child.kill('SIGTERM'));

    it('is written into the configured URLs that carry none, and lent to no URL from the admin API', async () => {
      const cluster = testCluster();
      const password = new URL(cluster.shards[0]!.primary).password;
      expect(password, 'the test cluster serves requests with a password-protected role').not.to.equal('');
      // the configured shards lose their passwords: PGPASSWORD must bring them back
      const shards = cluster.shards.map((s) => ({ ...s, primary: withoutPassword(s.primary), replicas: s.replicas.map((r) => withoutPassword(r)) }));
      proc = await startProcess(dir, { catalog: catalog.url, shards }, { PGPASSWORD: decodeURIComponent(password) });
      const admin = (method: string, p: string, body?: unknown) => http(method, proc!.adminUrl + p, { body, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      const created = await admin('POST', '/admin/tenants', { name: 'pgpassword', id: `pgpw-${Date.now()}` });
      expect(created.status, created.text).to.equal(201);
      const write = await http('POST', `${proc.tenantUrl}/v1/products`, {
        headers: { authorization: `Bearer ${created.body.apiKey as string}` },
        body: { name: 'served', price: '1.00', stock: 1 },
      });
      expect(write.status, write.text).to.equal(201);

      // the spare's request URLs without their password: the same role, the same servers
      const spare = spareShards()[0]!;
      const res = await admin('POST', '/admin/shards', {
        ...spare,
        id: 'shard-pgpw',
        primary: withoutPassword(spare.primary),
        replicas: spare.replicas.map((r) => withoutPassword(r)),
      });
      expect([res.status, res.body.field], res.text).to.deep.equal([400, 'primary']);
      expect(res.body.detail).to.include('unreachable');
    });
  });
});
