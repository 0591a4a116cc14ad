import { expect } from 'chai';
import { ShardNode } from '../../src/cluster/shard-node.js';
import { translateDbError } from '../../src/data/translate-db-error.js';
import { ShardUnavailableError } from '../../src/errors/errors.js';
import { Keyring, PasswordHasher } from '../../src/models/index.js';
import { PgTls } from '../../src/transport/pg-tls.js';

describe('ShardNode.query (a statement straight on the pool)', () => {
  const settings = { poolMax: 1, poolMin: 0, poolIdleMs: 1000, poolAcquireMs: 1000, statementTimeoutMs: 1000, idleInTransactionTimeoutMs: 1000, connectTimeoutMs: 500, tls: new PgTls({ mode: 'disable' }) };
  const deps = { hasher: new PasswordHasher({ cost: 1024 }), keyring: new Keyring({ k: Buffer.alloc(32, 1).toString('base64') }, 'k'), integrityAlarm: () => undefined };

  it('fails like sequelize.query does: an unreachable node is a 503 the read path may retry elsewhere', async () => {
    const node = new ShardNode('shard-x', 'replica', 'dead', 'postgres://nobody@127.0.0.1:1/none', settings, deps);
    try {
      const err = await node.query('SELECT 1', []).then(() => undefined, (e: unknown) => e);
      expect(translateDbError(err, node.shardId)).to.be.instanceOf(ShardUnavailableError);
    } finally {
      await node.close();
    }
  });
});
