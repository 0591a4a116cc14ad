import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import pg from 'pg';
import { DataTypes, QueryTypes, Sequelize, Transaction, UniqueConstraintError, type ModelStatic, type Model } from 'sequelize';
import { EmbeddedPostgres } from '../../src/embedded/embedded-postgres.js';

interface WidgetAttributes {
  id: number;
  name: string;
  attrs: Record<string, unknown>;
  tags: Record<string, string>;
  version?: number;
  deletedAt?: Date | null;
}
type Widget = Model<WidgetAttributes, Partial<WidgetAttributes>> & WidgetAttributes;

const lsnValue = (text: string): bigint => {
  const [hi, lo] = text.split('/');
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
};

function connect(url: string): Sequelize {
  return new Sequelize(url, { dialect: 'postgres', logging: false, pool: { max: 10, min: 0, acquire: 20_000 } });
}

function defineWidget(sequelize: Sequelize): ModelStatic<Widget> {
  return sequelize.define<Widget>(
    'Widget',
    {
      id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
      name: { type: DataTypes.STRING, allowNull: false },
      attrs: { type: DataTypes.JSONB, allowNull: false, defaultValue: {} },
      tags: { type: DataTypes.HSTORE, allowNull: false, defaultValue: {} },
    },
    {
      tableName: 'widgets',
      underscored: true,
      paranoid: true,
      version: true,
      indexes: [{ name: 'widgets_name_live', unique: true, fields: ['name'], where: { deleted_at: null } }],
    },
  );
}

describe('EmbeddedPostgres (PGlite behind a loopback socket)', function () {
  // initdb of a fresh data directory takes several seconds per instance
  this.timeout(120_000);

  let root: string;
  const instances: EmbeddedPostgres[] = [];
  const sequelizes: Sequelize[] = [];
  let shardA: EmbeddedPostgres;
  let seqA: Sequelize;
  let seqB: Sequelize;
  let Widget: ModelStatic<Widget>;

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'sg-embedded-'));
    const [a, b] = await Promise.all(
      ['shard-a', 'shard-b'].map((name) => EmbeddedPostgres.start({ dataDir: path.join(root, name), name })),
    );
    shardA = a!;
    instances.push(a!, b!);
    seqA = connect(a!.url);
    seqB = connect(b!.url);
    sequelizes.push(seqA, seqB);
    Widget = defineWidget(seqA);
    await Widget.sync();
    await seqA.query(`CREATE INDEX widgets_name_fts ON widgets USING gin (to_tsvector('simple', name))`);
  });

  after(async () => {
    await Promise.all(sequelizes.map((s) => s.close().catch(() => undefined)));
    await Promise.all(instances.map((i) => i.close()));
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('exposes postgres:// URLs on 127.0.0.1 with hstore and no pgcrypto', async () => {
    expect(shardA.url).to.match(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
    const exts = await seqA.query<{ extname: string }>('SELECT extname FROM pg_extension', { type: QueryTypes.SELECT });
    expect(exts.map((e) => e.extname)).to.include('hstore').and.not.include('pgcrypto');
    // core since PostgreSQL 13, so UUIDs never need pgcrypto
    const [row] = await seqA.query<{ id: string }>('SELECT gen_random_uuid()::text AS id', { type: QueryTypes.SELECT });
    expect(row!.id).to.match(/^[0-9a-f-]{36}$/);
  });

  it('keeps the two instances apart', async () => {
    const [row] = await seqB.query<{ t: string | null }>(`SELECT to_regclass('widgets')::text AS t`, { type: QueryTypes.SELECT });
    expect(row!.t).to.equal(null);
  });

  it('runs a paranoid, versioned model with JSONB and HSTORE columns', async () => {
    const w = await Widget.create({ name: 'gear', attrs: { size: 3, nested: { ok: true } }, tags: { colour: 'red' } });
    expect(w.version).to.equal(0);
    await w.update({ attrs: { size: 4 }, tags: { colour: 'blue', finish: 'matte' } });
    expect(w.version).to.equal(1);
    const [found] = await Widget.findAll({ where: { name: 'gear' } });
    expect(found!.attrs).to.deep.equal({ size: 4 });
    expect(found!.tags).to.deep.equal({ colour: 'blue', finish: 'matte' });
    await found!.destroy();
    expect(await Widget.count({ where: { name: 'gear' } })).to.equal(0);
    expect(await Widget.count({ where: { name: 'gear' }, paranoid: false })).to.equal(1);
    await found!.restore();
    expect((await Widget.findOne({ where: { name: 'gear' } }))!.version).to.be.greaterThan(1);
  });

  it('enforces a partial unique index only on live rows', async () => {
    const first = await Widget.create({ name: 'bolt', attrs: {}, tags: {} });
    let err: unknown;
    await Widget.create({ name: 'bolt', attrs: {}, tags: {} }).catch((e: unknown) => (err = e));
    expect(err).to.be.instanceOf(UniqueConstraintError);
    await first.destroy();
    await Widget.create({ name: 'bolt', attrs: {}, tags: {} });
  });

  it('uses a GIN full-text index, upserts, window functions and CTEs', async () => {
    const hits = await seqA.query<{ name: string }>(
      `SELECT name FROM widgets WHERE to_tsvector('simple', name) @@ to_tsquery('simple', 'bolt') AND deleted_at IS NULL`,
      { type: QueryTypes.SELECT },
    );
    expect(hits.map((h) => h.name)).to.deep.equal(['bolt']);
    await seqA.query(`CREATE TABLE counters (k text PRIMARY KEY, n int NOT NULL)`);
    for (let i = 0; i < 3; i++) {
      await seqA.query(`INSERT INTO counters (k, n) VALUES ('hits', 1) ON CONFLICT (k) DO UPDATE SET n = counters.n + EXCLUDED.n`);
    }
    const rows = await seqA.query<{ k: string; n: number; rank: string; total: string }>(
      `WITH c AS (SELECT k, n FROM counters UNION ALL SELECT 'misses', 0)
       SELECT k, n, rank() OVER (ORDER BY n DESC)::text AS rank, sum(n) OVER ()::text AS total FROM c ORDER BY k`,
      { type: QueryTypes.SELECT },
    );
    expect(rows).to.deep.equal([
      { k: 'hits', n: 3, rank: '1', total: '3' },
      { k: 'misses', n: 0, rank: '2', total: '3' },
    ]);
  });

  it('runs transactions with an isolation level and savepoints', async () => {
    await seqA.transaction({ isolationLevel: Transaction.ISOLATION_LEVELS.SERIALIZABLE }, async (t) => {
      const [level] = await seqA.query<{ l: string }>('SHOW transaction_isolation', { type: QueryTypes.SELECT, transaction: t });
      expect(Object.values(level!)[0]).to.equal('serializable');
      await Widget.create({ name: 'outer', attrs: {}, tags: {} }, { transaction: t });
      await seqA
        .transaction({ transaction: t }, async (sp) => {
          await Widget.create({ name: 'inner', attrs: {}, tags: {} }, { transaction: sp });
          throw new Error('roll back to the savepoint');
        })
        .catch(() => undefined);
    });
    expect(await Widget.count({ where: { name: 'outer' } })).to.equal(1);
    expect(await Widget.count({ where: { name: 'inner' } })).to.equal(0);
  });

  it('serves many pooled connections at once, large bound parameters included', async () => {
    const reads = await Promise.all(Array.from({ length: 20 }, () => Widget.findAll()));
    expect(new Set(reads.map((r) => r.length)).size).to.equal(1);
    // > 64 KB per statement arrives in several TCP reads: extended-protocol batches of
    // different connections must not interleave (they do with pglite-socket 0.2.17)
    const blob = 'x'.repeat(200_000);
    const made = await Promise.all(
      Array.from({ length: 12 }, (_, i) => Widget.create({ name: `big-${i}`, attrs: i % 2 ? { blob, i } : { i }, tags: {} })),
    );
    made.forEach((w, i) => expect(w.name).to.equal(`big-${i}`));
    const back = await Promise.all(made.map((w) => Widget.findByPk(w.id)));
    back.forEach((w, i) => expect(w!.attrs).to.deep.equal(i % 2 ? { blob, i } : { i }));
  });

  it('makes a query on another connection wait for an open transaction', async () => {
    const order: string[] = [];
    let outside: Promise<unknown> | undefined;
    await seqA.transaction(async (t) => {
      await Widget.create({ name: 'tx-row', attrs: {}, tags: {} }, { transaction: t });
      // deliberately outside the transaction: it runs only after COMMIT (awaiting it in here would hang)
      outside = Widget.count({ where: { name: 'tx-row' } }).then((n) => order.push(`outside saw ${n}`));
      await new Promise((r) => setTimeout(r, 200));
      order.push('commit');
    });
    await outside;
    expect(order).to.deep.equal(['commit', 'outside saw 1']);
  });

  it('reports a WAL position that moves forward with writes', async () => {
    const lsn = async (): Promise<string> =>
      (await seqA.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn', { type: QueryTypes.SELECT }))[0]!.lsn;
    const before = await lsn();
    expect(before).to.match(/^[0-9A-F]+\/[0-9A-F]+$/);
    await Widget.create({ name: 'wal', attrs: {}, tags: {} });
    expect(lsnValue(await lsn()) > lsnValue(before)).to.equal(true);
    const [replica] = await seqA.query<{ r: boolean; l: string | null }>(
      'SELECT pg_is_in_recovery() AS r, pg_last_wal_replay_lsn()::text AS l',
      { type: QueryTypes.SELECT },
    );
    expect(replica).to.deep.equal({ r: false, l: null });
  });

  it('shares one session between connections: advisory locks exclude nobody', async () => {
    const one = new pg.Client(shardA.url);
    const two = new pg.Client(shardA.url);
    await Promise.all([one.connect(), two.connect()]);
    try {
      await one.query('SELECT pg_advisory_lock(1)');
      // on a real server this would block until `one` unlocks
      expect((await two.query('SELECT pg_try_advisory_lock(1) AS ok')).rows[0].ok).to.equal(true);
      await two.query('SELECT pg_advisory_unlock(1)');
      expect((await one.query('SELECT pg_advisory_unlock(1) AS ok')).rows[0].ok).to.equal(true);
      await one.query(`SET application_name = 'set-by-one'`);
      expect((await two.query('SHOW application_name')).rows[0].application_name).to.equal('set-by-one');
      await one.query('RESET application_name');
    } finally {
      await Promise.all([one.end(), two.end()]);
    }
  });

  it('rolls back the transaction of a client that disconnects inside it', async () => {
    const quitter = new pg.Client(shardA.url);
    await quitter.connect();
    await quitter.query('BEGIN');
    await quitter.query(`INSERT INTO counters (k, n) VALUES ('abandoned', 1)`);
    await quitter.end();
    const rows = await seqA.query(`SELECT k FROM counters WHERE k = 'abandoned'`, { type: QueryTypes.SELECT });
    expect(rows).to.deep.equal([]);
  });

  it('refuses a second opening of a data directory', async () => {
    let err: unknown;
    await EmbeddedPostgres.start({ dataDir: path.join(root, 'shard-a'), name: 'again' }).catch((e: unknown) => (err = e));
    expect(String(err)).to.match(/already open by this process/);
  });

  it('keeps data across a restart and enforces maxConnections', async () => {
    const live = await Widget.count();
    const lsnSql = 'SELECT pg_current_wal_lsn()::text AS lsn';
    const [before] = await seqA.query<{ lsn: string }>(lsnSql, { type: QueryTypes.SELECT });
    await seqA.close();
    await shardA.close();
    const restarted = await EmbeddedPostgres.start({ dataDir: path.join(root, 'shard-a'), name: 'shard-a', maxConnections: 3 });
    instances.push(restarted);
    const seq = connect(restarted.url);
    sequelizes.push(seq);
    expect(await defineWidget(seq).count()).to.equal(live);
    // consistency tokens stay comparable: the WAL position never goes back across a restart
    const [after] = await seq.query<{ lsn: string }>(lsnSql, { type: QueryTypes.SELECT });
    expect(lsnValue(after!.lsn) >= lsnValue(before!.lsn)).to.equal(true);

    await seq.close();
    const clients = Array.from({ length: 4 }, () => new pg.Client(restarted.url));
    const results = await Promise.allSettled(clients.map((c) => c.connect()));
    expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(3);
    const refused = results.find((r) => r.status === 'rejected');
    expect(String(refused?.reason)).to.match(/too many clients/);
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  });
});
