import { expect } from 'chai';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import { QueryTypes } from 'sequelize';
import { ShardNode } from '../../src/cluster/shard-node.js';
import type { StatementObserver } from '../../src/cluster/statement-observer.js';
import { currentContext, runInRequest } from '../../src/context/request-context.js';
import { Keyring, PasswordHasher } from '../../src/models/index.js';
import { PgTls } from '../../src/transport/pg-tls.js';
import { testCluster } from '../support/test-cluster.js';

interface Seen {
  sql: string;
  rows: number;
  ms: number;
  requestId: string | undefined;
}

// Tenant usage rests on this: every statement of a pool, whoever sends it, reaches the
// observer with its rows, attributed to the request that sent it — not to the one whose
// context the connection's socket was opened in.
describe('statement observer: every pooled statement, its rows, and the request that sent it', function () {
  this.timeout(30_000);
  const seen: Seen[] = [];
  let node: ShardNode;

  before(() => {
    const shard = testCluster().shards[0]!;
    const observer: StatementObserver = (_node, sql) => {
      const requestId = currentContext()?.requestId;
      return (ms, rows) => seen.push({ sql, rows, ms, requestId });
    };
    const settings = { poolMax: 2, poolMin: 0, poolIdleMs: 10_000, poolAcquireMs: 3000, statementTimeoutMs: 5000, idleInTransactionTimeoutMs: 5000, connectTimeoutMs: 3000, tls: new PgTls({ mode: 'disable' }) };
    const deps = { hasher: new PasswordHasher({ cost: 1024 }), keyring: new Keyring({ k: Buffer.alloc(32, 1).toString('base64') }, 'k'), integrityAlarm: () => undefined };
    node = new ShardNode(shard.id, 'primary', 'primary', shard.admin.primary, settings, deps, observer);
  });
  after(async () => {
    await node?.close();
  });

  const inRequest = <T>(requestId: string, fn: () => Promise<T>) => runInRequest({ requestId }, ROOT_CONTEXT, fn);

  it('sees the pooled path, Sequelize queries and a transaction, each with its rows', async () => {
    seen.length = 0;
    await inRequest('r-pooled', () => node.query('SELECT g FROM generate_series(1, 7) g', []));
    await inRequest('r-sequelize', () => node.sequelize.query('SELECT g FROM generate_series(1, 3) g', { type: QueryTypes.SELECT }));
    await inRequest('r-tx', () => node.sequelize.transaction(async (t) => node.sequelize.query('SELECT 1 AS one', { transaction: t, type: QueryTypes.SELECT })));
    const pooled = seen.find((s) => s.sql.includes('generate_series(1, 7)'));
    expect(pooled).to.deep.include({ rows: 7, requestId: 'r-pooled' });
    expect(pooled!.ms).to.be.greaterThan(0);
    expect(seen.find((s) => s.sql.includes('generate_series(1, 3)'))).to.deep.include({ rows: 3, requestId: 'r-sequelize' });
    const tx = seen.filter((s) => s.requestId === 'r-tx').map((s) => s.sql);
    expect(tx.some((sql) => /START TRANSACTION|BEGIN/i.test(sql)), tx.join(' | ')).to.equal(true);
    expect(tx.some((sql) => sql.includes('SELECT 1 AS one'))).to.equal(true);
    expect(tx.some((sql) => /COMMIT/i.test(sql))).to.equal(true);
  });

  it('attributes statements on one reused connection to the request that sent each, and a failed one with no rows', async () => {
    seen.length = 0;
    // two requests at once on a pool of two, then many after on whichever connection is free
    await Promise.all(['a', 'b'].map((id) => inRequest(`r-${id}`, () => node.query(`SELECT '${id}' AS who, pg_sleep(0.05)`, []))));
    for (const id of ['c', 'd', 'e', 'f']) await inRequest(`r-${id}`, () => node.query(`SELECT '${id}' AS who`, []));
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) {
      const s = seen.find((x) => x.sql.includes(`'${id}' AS who`));
      expect(s?.requestId, id).to.equal(`r-${id}`);
    }
    await inRequest('r-fail', () => node.query('SELECT 1/0', []).catch(() => undefined));
    expect(seen.find((s) => s.sql === 'SELECT 1/0')).to.deep.include({ rows: 0, requestId: 'r-fail' });
    // outside any request: observed, attributed to none
    await node.query('SELECT 42', []);
    expect(seen.find((s) => s.sql === 'SELECT 42')).to.deep.include({ rows: 1, requestId: undefined });
  });
});
