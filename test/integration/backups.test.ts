import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startProcess } from '../support/gateway-process.js';
import { ADMIN_TOKEN, TestGateway, TestTenant, http, sql, testCluster, type Json } from '../support/test-cluster.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The cluster's `backups` block (cluster.sh writes it: where backups and each shard's WAL archive go). */
function backupsConfig(): { dir: string; archiveDir: string; pgBinDir: string; osUser: string } {
  const file = JSON.parse(readFileSync(process.env.SHARDGATE_TEST_CLUSTER!, 'utf8')) as { backups?: { dir: string; archiveDir: string; pgBinDir: string; osUser: string } };
  if (!file.backups) throw new Error('the test cluster has no backups block: cluster.sh writes one');
  return file.backups;
}

/** A file the server's user wrote, read as that user would (the test may run as root or as that user). */
function exists(file: string): boolean {
  try {
    execFileSync('test', ['-e', file]);
    return true;
  } catch {
    return false;
  }
}

// Backups (issue 18): every shard primary archives its WAL (cluster.sh sets archive_command),
// and POST /admin/backups takes a base backup of every shard as a job.
describe('backups: WAL archive and base backups of every shard', function () {
  this.timeout(300_000);
  let gw: TestGateway;

  const waitJob = async (id: string, ms = 240_000): Promise<Json> => {
    const until = Date.now() + ms;
    for (;;) {
      const job = (await gw.admin('GET', `/admin/jobs/${id}`)).body;
      if (job.state !== 'pending' && job.state !== 'running') return job;
      if (Date.now() > until) throw new Error(`job ${id} still ${String(job.state)}: ${JSON.stringify(job)}`);
      await sleep(250);
    }
  };

  before(async () => {
    gw = await TestGateway.start();
  });
  after(async () => {
    await gw?.stop();
  });

  it('every shard primary archives its WAL into its own directory', async () => {
    const { archiveDir } = backupsConfig();
    for (const shard of testCluster().shards) {
      const [row] = await sql<{ archive: string; mode: string; file: string }>(
        shard.admin.primary,
        `SELECT current_setting('archive_command') AS archive, current_setting('archive_mode') AS mode, pg_walfile_name(pg_switch_wal()) AS file`,
      );
      expect(row!.mode).to.equal('on');
      let archived = false;
      for (let i = 0; i < 80 && !archived; i++) {
        archived = exists(path.join(archiveDir, shard.id, row!.file));
        if (!archived) await sleep(250);
      }
      expect(archived, `${shard.id}: ${row!.file} in ${archiveDir}/${shard.id}`).to.equal(true);
      const [stats] = await sql<{ failed: number }>(shard.admin.primary, 'SELECT failed_count::int AS failed FROM pg_stat_archiver');
      expect(stats!.failed, `${shard.id}: failed archive attempts`).to.equal(0);
    }
  });

  it('cluster:up took a first base backup of every shard (npm run migrate -- --first-backup), so the fleet is restorable from the start', async () => {
    const firsts = await sql<{ shard: string }>(testCluster().catalog, `SELECT DISTINCT shard_id AS shard FROM backups WHERE run_id IS NULL AND state IN ('done', 'deleted')`);
    expect(firsts.map((f) => f.shard).sort()).to.include.members(testCluster().shards.map((s) => s.id));
  });

  it('takes a base backup of every shard as a job: one at a time, recorded with its size, first WAL segment and restorable window', async () => {
    const res = await gw.admin('POST', '/admin/backups');
    expect(res.status, res.text).to.equal(202);
    const again = await gw.admin('POST', '/admin/backups');
    expect([again.status, again.body.code], 'a second while one runs').to.deep.equal([409, 'CONFLICT']);
    const job = await waitJob(res.body.jobId as string);
    expect(job, JSON.stringify(job)).to.include({ kind: 'backup', state: 'succeeded' });
    const made = (job.result as Json).backups as string[];
    expect(made).to.have.length(testCluster().shards.length);

    const list = (await gw.admin('GET', '/admin/backups')).body as unknown as Json[];
    const { dir } = backupsConfig();
    for (const shard of testCluster().shards) {
      const backup = list.find((b) => b.shard === shard.id && made.includes(b.id as string));
      expect(backup, `${shard.id}'s backup`).to.not.equal(undefined);
      expect(backup!.state).to.equal('done');
      expect(backup!.walFrom).to.match(/^[0-9A-F]{24}$/);
      expect(backup!.sizeBytes as number).to.be.greaterThan(1_000_000);
      expect(Date.parse(backup!.finishedAt as string)).to.be.at.least(Date.parse(backup!.startedAt as string));
      const window = backup!.window as Json;
      expect(Date.parse(window.from as string)).to.be.at.most(Date.parse(backup!.consistentAt as string));
      expect(Date.parse(window.to as string)).to.be.at.least(Date.parse(backup!.consistentAt as string));
      const location = path.join(dir, shard.id, backup!.id as string);
      expect(exists(path.join(location, 'PG_VERSION')), `${location} is a data directory`).to.equal(true);
      expect(exists(path.join(location, 'backup_label')), `${location} has its backup_label`).to.equal(true);
    }
    const windows = (await gw.admin('GET', '/admin/backups/windows')).body as unknown as Json[];
    expect(windows.map((w) => w.shard).sort()).to.deep.equal(testCluster().shards.map((s) => s.id).sort());
    for (const w of windows) expect(w.from, `${String(w.shard)} is restorable`).to.be.a('string');
  });

  it('keeps backups.keep per shard: older backups go, with the archived WAL only they needed', async () => {
    const backups = { ...backupsConfig(), keep: 1 };
    const one = await TestGateway.start({ backups });
    try {
      const res = await one.admin('POST', '/admin/backups');
      expect(res.status, res.text).to.equal(202);
      const job = await (async () => {
        for (;;) {
          const j = (await one.admin('GET', `/admin/jobs/${res.body.jobId as string}`)).body;
          if (j.state !== 'pending' && j.state !== 'running') return j;
          await sleep(250);
        }
      })();
      expect(job.state, JSON.stringify(job)).to.equal('succeeded');
      const list = (await one.admin('GET', '/admin/backups')).body as unknown as Json[];
      for (const shard of testCluster().shards) {
        const kept = list.filter((b) => b.shard === shard.id && b.state === 'done');
        expect(kept, `${shard.id}: one kept`).to.have.length(1);
        const [oldest] = kept;
        // every archived segment older than the kept backup's first is gone
        const names = execFileSync('ls', [path.join(backups.archiveDir, shard.id)]).toString().split('\n').filter((n) => /^[0-9A-F]{24}$/.test(n));
        expect(names.filter((n) => n < (oldest!.walFrom as string)), `${shard.id}: WAL before ${String(oldest!.walFrom)}`).to.deep.equal([]);
      }
    } finally {
      await one.stop();
    }
  });

  describe('point-in-time restore of one tenant', () => {
    let a: TestTenant;
    let neighbour: TestTenant;
    let moment = '';
    const strong = { 'x-consistency': 'strong' };
    const names = async (t: TestTenant) =>
      ((await t.request('GET', '/v1/products?pageSize=100', { headers: strong })).body.items as Json[]).map((p) => p.name as string).sort();

    before(async () => {
      a = await gw.createTenant('restore');
      for (let i = 0; i < 30; i++) {
        neighbour = await gw.createTenant('neighbour');
        if (neighbour.shard === a.shard) break;
      }
      expect(neighbour.shard, 'a neighbour on the same shard').to.equal(a.shard);
      const backup = await gw.admin('POST', '/admin/backups');
      expect(backup.status, backup.text).to.equal(202);
      expect((await waitJob(backup.body.jobId as string)).state).to.equal('succeeded');
    });

    it('restores state A after changes and deletes made B: into a new tenant (sealed fields rebound) and in place; the neighbour keeps B', async () => {
      const shard = testCluster().shards.find((s) => s.id === a.shard)!;
      // state A
      expect((await a.request('POST', '/v1/products', { body: { name: 'alpha', price: 10, stock: 5 } })).status).to.equal(201);
      const user = await a.createUser({ taxId: 'DE-RESTORE-1' });
      expect(user.status, user.text).to.equal(201);
      const n1 = await neighbour.request('POST', '/v1/products', { body: { name: 'n-early', price: 1, stock: 1 } });
      expect(n1.status).to.equal(201);
      await sleep(1100);
      moment = (await sql<{ now: Date }>(shard.admin.primary, 'SELECT clock_timestamp() AS now'))[0]!.now.toISOString();
      await sleep(1100);
      // state B
      const alpha = ((await a.request('GET', '/v1/products', { headers: strong })).body.items as Json[])[0]!;
      const patched = await a.request('PATCH', `/v1/products/${String(alpha.id)}`, { body: { name: 'beta' } });
      expect(patched.status, patched.text).to.equal(200);
      expect((await a.request('POST', '/v1/products', { body: { name: 'gamma', price: 2, stock: 1 } })).status).to.equal(201);
      expect((await a.request('DELETE', `/v1/users/${String(user.body.id)}`)).status).to.be.oneOf([200, 204]);
      const n1b = await neighbour.request('PATCH', `/v1/products/${String(n1.body.id)}`, { body: { name: 'n-later' } });
      expect(n1b.status, n1b.text).to.equal(200);
      expect(await names(a)).to.deep.equal(['beta', 'gamma']);

      // into a new tenant
      let res = await gw.admin('POST', `/admin/tenants/${a.id}/restore`, { at: moment, into: 'new' });
      expect(res.status, res.text).to.equal(202);
      let job = await waitJob(res.body.jobId as string);
      expect(job, JSON.stringify(job)).to.include({ kind: 'restore', state: 'succeeded' });
      const result = job.result as Json;
      expect(result.tenantId).to.not.equal(a.id);
      const copy = new TestTenant(gw, result.tenantId as string, result.apiKey as string, '');
      expect(await names(copy)).to.deep.equal(['alpha']);
      const users = (await copy.request('GET', '/v1/users', { headers: strong })).body.items as Json[];
      expect(users.map((u) => u.taxId), 'the sealed tax id opens under the new tenant').to.deep.equal(['DE-RESTORE-1']);
      expect(await names(a), 'the source is untouched by a restore into a new tenant').to.deep.equal(['beta', 'gamma']);

      // in place
      res = await gw.admin('POST', `/admin/tenants/${a.id}/restore`, { at: moment, into: 'replace' });
      expect(res.status, res.text).to.equal(202);
      job = await waitJob(res.body.jobId as string);
      expect(job, JSON.stringify(job)).to.include({ kind: 'restore', state: 'succeeded' });
      expect(await names(a)).to.deep.equal(['alpha']);
      const back = (await a.request('GET', '/v1/users', { headers: strong })).body.items as Json[];
      expect(back.map((u) => u.taxId)).to.deep.equal(['DE-RESTORE-1']);
      const [fence] = await sql<{ n: number }>(shard.admin.primary, 'SELECT count(*)::int AS n FROM tenant_fences WHERE tenant_id = $1', [a.id]);
      expect(fence!.n, 'the write fence of the replace is lifted').to.equal(0);
      const audited = await sql<{ action: string; values: Json }>(
        shard.admin.primary,
        `SELECT action, new_values AS values FROM audit_log WHERE tenant_id = $1 AND table_name = 'tenants' AND record_id = $1`,
        [a.id],
      );
      expect(audited.map((e) => [e.action, e.values.into, e.values.at]), 'the restore in the trail').to.deep.include(['restore', 'replace', moment]);
      expect((await a.request('POST', '/v1/products', { body: { name: 'after', price: 3, stock: 1 } })).status, 'writable afterwards').to.equal(201);
      expect(await names(neighbour), 'the neighbour keeps state B').to.deep.equal(['n-later']);

      // no scratch server or files left behind
      const { dir } = backupsConfig();
      const scratch = execFileSync('ls', ['-A', path.join(dir, '.scratch')]).toString().trim();
      expect(scratch, 'scratch directories left').to.equal('');
    });

    it('a gateway SIGKILLed mid-restore: another resumes the job, stops and removes the scratch server it left, and finishes', async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'sg-restore-'));
      const proc = await startProcess(dir, { moves: { leaseMs: 2000 } });
      try {
        const res = await http('POST', `${proc.adminUrl}/admin/tenants/${a.id}/restore`, { body: { at: moment, into: 'new' }, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
        expect(res.status, res.text).to.equal(202);
        const id = res.body.jobId as string;
        // killed once the scratch server is being made
        for (let i = 0; i < 400; i++) {
          const job = (await gw.admin('GET', `/admin/jobs/${id}`)).body;
          if (['recovering', 'exporting', 'importing'].includes(String((job.progress as Json | undefined)?.stage))) break;
          await sleep(25);
        }
        proc.child.kill('SIGKILL');
        await proc.exited;
        const mid = (await gw.admin('GET', `/admin/jobs/${id}`)).body;
        expect(mid.state, `killed mid-way: ${JSON.stringify(mid)}`).to.equal('running');
        const job = await waitJob(id);
        expect(job, JSON.stringify(job)).to.include({ kind: 'restore', state: 'succeeded' });
        const result = job.result as Json;
        const copy = new TestTenant(gw, result.tenantId as string, result.apiKey as string, '');
        expect(await names(copy), 'restored by the gateway that took over').to.deep.equal(['alpha']);
      } finally {
        proc.child.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      }
      const { dir: backupDir } = backupsConfig();
      expect(execFileSync('ls', ['-A', path.join(backupDir, '.scratch')]).toString().trim(), 'scratch directories left').to.equal('');
      const servers = execFileSync('ps', ['-eo', 'args']).toString().split('\n').filter((l) => l.includes(path.join(backupDir, '.scratch')));
      expect(servers, 'scratch servers still running').to.deep.equal([]);
    });

    it('a tenant moved after the moment is restored from the backups of the shard it lived on then', async () => {
      const t = await gw.createTenant('moved');
      expect((await t.request('POST', '/v1/products', { body: { name: 'before-move', price: 1, stock: 1 } })).status).to.equal(201);
      const from = testCluster().shards.find((s) => s.id === t.shard)!;
      await sleep(1100);
      const at = (await sql<{ now: Date }>(from.admin.primary, 'SELECT clock_timestamp() AS now'))[0]!.now.toISOString();
      await sleep(1100);
      const to = testCluster().shards.find((s) => s.id !== t.shard)!;
      const move = await gw.admin('POST', `/admin/tenants/${t.id}/move`, { to: to.id });
      expect(move.status, move.text).to.equal(202);
      expect((await waitJob(move.body.jobId as string)).state).to.equal('succeeded');
      expect((await t.request('POST', '/v1/products', { body: { name: 'after-move', price: 1, stock: 1 } })).status).to.equal(201);

      const res = await gw.admin('POST', `/admin/tenants/${t.id}/restore`, { at, into: 'new' });
      expect(res.status, res.text).to.equal(202);
      const job = await waitJob(res.body.jobId as string);
      expect(job, JSON.stringify(job)).to.include({ state: 'succeeded' });
      expect((job.result as Json).shard, 'restored from the shard it was on at the moment').to.equal(from.id);
      const copy = new TestTenant(gw, (job.result as Json).tenantId as string, (job.result as Json).apiKey as string, '');
      expect(await names(copy)).to.deep.equal(['before-move']);
    });

    it("never takes over another owner's write fence: a restore in place of a tenant fenced by a move fails and leaves the fence alone", async () => {
      const shard = testCluster().shards.find((s) => s.id === a.shard)!;
      await sql(shard.admin.primary, `INSERT INTO tenant_fences (tenant_id, move_id) VALUES ($1, 'someone-elses-move')`, [a.id]);
      try {
        const res = await gw.admin('POST', `/admin/tenants/${a.id}/restore`, { at: moment, into: 'replace' });
        expect(res.status, res.text).to.equal(202);
        const job = await waitJob(res.body.jobId as string);
        expect(job.state, JSON.stringify(job)).to.equal('failed');
        expect(job.error).to.match(/fenced by move someone-elses-move/);
        const [fence] = await sql<{ owner: string }>(shard.admin.primary, 'SELECT move_id AS owner FROM tenant_fences WHERE tenant_id = $1', [a.id]);
        expect(fence?.owner, 'the move keeps its fence').to.equal('someone-elses-move');
      } finally {
        await sql(shard.admin.primary, 'DELETE FROM tenant_fences WHERE tenant_id = $1', [a.id]);
      }
      expect((await a.request('POST', '/v1/products', { body: { name: 'unfenced', price: 1, stock: 1 } })).status).to.equal(201);
    });

    it('refuses what it cannot restore: 422 before the oldest backup or in the future, 400 naming the field, 404 for an unknown tenant', async () => {
      let res = await gw.admin('POST', `/admin/tenants/${a.id}/restore`, { at: '2001-01-01T00:00:00Z', into: 'new' });
      expect([res.status, res.body.code, res.body.field], res.text).to.deep.equal([422, 'NOT_RESTORABLE', 'at']);
      res = await gw.admin('POST', `/admin/tenants/${a.id}/restore`, { at: new Date(Date.now() + 3_600_000).toISOString(), into: 'new' });
      expect([res.status, res.body.code]).to.deep.equal([422, 'NOT_RESTORABLE']);
      res = await gw.admin('POST', `/admin/tenants/${a.id}/restore`, { at: 'last tuesday', into: 'new' });
      expect([res.status, res.body.field]).to.deep.equal([400, 'at']);
      res = await gw.admin('POST', `/admin/tenants/${a.id}/restore`, { at: moment, into: 'elsewhere' });
      expect([res.status, res.body.field]).to.deep.equal([400, 'into']);
      res = await gw.admin('POST', '/admin/tenants/nobody-here/restore', { at: moment, into: 'new' });
      expect(res.status).to.equal(404);
    });
  });

  it('a gateway without a backups block answers 409, naming what backs the fleet up instead', async () => {
    const none = await TestGateway.start({ backups: undefined });
    try {
      const res = await none.admin('POST', '/admin/backups');
      expect([res.status, res.body.code]).to.deep.equal([409, 'CONFLICT']);
      expect(res.body.detail).to.match(/CloudNativePG/);
    } finally {
      await none.stop();
    }
  });
});
