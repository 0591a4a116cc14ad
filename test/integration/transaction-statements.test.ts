import { expect } from 'chai';
import { QueryTypes, Sequelize, Transaction } from 'sequelize';
import { beginInOneStatement, scopedTo } from '../../src/cluster/transaction-statements.js';
import { testCluster } from '../support/test-cluster.js';

// Issue 20: a write transaction's isolation level rides on START TRANSACTION instead of a
// round trip of its own (Sequelize's SET TRANSACTION ISOLATION LEVEL).
describe('transactions begin in one statement, at the isolation level asked for', function () {
  this.timeout(30_000);
  let sequelize: Sequelize;
  const sent: string[] = [];
  before(() => {
    sequelize = new Sequelize(testCluster().shards[0]!.admin.primary, { dialect: 'postgres', logging: (sql: string) => sent.push(sql), pool: { max: 1 } });
    beginInOneStatement(sequelize);
  });
  after(async () => {
    await sequelize?.close();
  });

  for (const level of [Transaction.ISOLATION_LEVELS.READ_COMMITTED, Transaction.ISOLATION_LEVELS.REPEATABLE_READ, Transaction.ISOLATION_LEVELS.SERIALIZABLE]) {
    it(`${level}: the server runs it at that level, and no SET TRANSACTION is sent`, async () => {
      sent.length = 0;
      const seen = await sequelize.transaction({ isolationLevel: level }, async (t) => {
        const rows = await sequelize.query<{ level: string }>("SELECT current_setting('transaction_isolation') AS level", { transaction: t, type: QueryTypes.SELECT });
        return rows[0]!.level;
      });
      expect(seen).to.equal(level.toLowerCase());
      expect(sent.filter((s) => /SET TRANSACTION/i.test(s)), sent.join('\n')).to.deep.equal([]);
      expect(sent.filter((s) => /START TRANSACTION/.test(s)).map((s) => s.replace(/^Executing \([^)]*\): /, ''))).to.deep.equal([`START TRANSACTION ISOLATION LEVEL ${level};`]);
    });
  }

  it('without a level, the server default; savepoints stay savepoints', async () => {
    sent.length = 0;
    await sequelize.transaction(async (t) => {
      await sequelize.transaction({ transaction: t }, async (inner) => {
        await sequelize.query('SELECT 1', { transaction: inner });
      });
    });
    const statements = sent.map((s) => s.replace(/^Executing \([^)]*\): /, ''));
    expect(statements[0]).to.equal('START TRANSACTION;');
    expect(statements.some((s) => /^SAVEPOINT "/.test(s)), statements.join('\n')).to.equal(true);
  });

  it('a scoped transaction names its tenant in the same round trip, before anything else runs in it, whatever the id holds', async () => {
    for (const tenantId of ["acme", "o'brien", 'back\\slash', "x'); DROP TABLE users; --"]) {
      sent.length = 0;
      const seen = await sequelize.transaction(scopedTo({ tenantId }, { isolationLevel: Transaction.ISOLATION_LEVELS.REPEATABLE_READ }), async (t) => {
        const rows = await sequelize.query<{ tenant: string; level: string }>(
          "SELECT current_setting('shardgate.tenant_id') AS tenant, current_setting('transaction_isolation') AS level",
          { transaction: t, type: QueryTypes.SELECT },
        );
        return rows[0]!;
      });
      expect(seen).to.deep.equal({ tenant: tenantId, level: 'repeatable read' });
      const statements = sent.map((s) => s.replace(/^Executing \([^)]*\): /, ''));
      expect(statements[0], statements.join('\n')).to.match(/^START TRANSACTION ISOLATION LEVEL REPEATABLE READ; SELECT set_config\('shardgate\.tenant_id', +E?'.*', true\);$/s);
      expect(statements.filter((s) => /set_config/.test(s)), 'no scope statement of its own').to.have.length(1);
    }
    // transaction-local: gone after the commit
    const after = await sequelize.query<{ tenant: string | null }>("SELECT current_setting('shardgate.tenant_id', true) AS tenant", { type: QueryTypes.SELECT });
    expect(after[0]!.tenant ?? '').to.equal('');
  });
});
