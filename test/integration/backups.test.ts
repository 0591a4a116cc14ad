import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TestGateway, sql, testCluster, type Json } from '../support/test-cluster.js';

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
