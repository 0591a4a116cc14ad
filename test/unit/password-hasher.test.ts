import { expect } from 'chai';
import { PasswordHasher } from '../../src/models/password-hasher.js';
import { HashingBusyError } from '../../src/errors/errors.js';

describe('PasswordHasher', () => {
  it('hashes and verifies', async () => {
    const hasher = new PasswordHasher({ cost: 1024 });
    const encoded = await hasher.hash('correct horse battery');
    expect(await hasher.verify('correct horse battery', encoded)).to.equal(true);
    expect(await hasher.verify('wrong horse battery', encoded)).to.equal(false);
  });

  it('runs at most maxConcurrent at once, queues maxQueued, and refuses the rest with HASHING_BUSY', async () => {
    const hasher = new PasswordHasher({ cost: 16384, maxConcurrent: 2, maxQueued: 3 });
    const settled = Array.from({ length: 8 }, (_, i) => hasher.hash(`password ${i}`).then(
      (hash) => ({ ok: true as const, hash }),
      (err: unknown) => ({ ok: false as const, err }),
    ));
    expect(hasher.load).to.deep.equal({ running: 2, waiting: 3 });
    const results = await Promise.all(settled);
    expect(results.filter((r) => r.ok)).to.have.length(5);
    const refused = results.filter((r) => !r.ok).map((r) => r.err);
    expect(refused).to.have.length(3);
    for (const err of refused) {
      expect(err).to.be.instanceOf(HashingBusyError);
      expect((err as HashingBusyError).code).to.equal('HASHING_BUSY');
      expect((err as HashingBusyError).status).to.equal(503);
      expect((err as HashingBusyError).retryAfterSeconds).to.equal(1);
    }
    expect(hasher.load).to.deep.equal({ running: 0, waiting: 0 });
    // the queue drained: hashing works again
    expect(await hasher.hash('again')).to.match(/^scrypt\$16384\$/);
  });
});
