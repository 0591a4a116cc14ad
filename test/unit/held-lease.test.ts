import { expect } from 'chai';
import { HeldLease, LeaseLost } from '../../src/leases/held-lease.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Polls until `done` or 5 s: a loaded machine delays the lease's 250 ms timer, so no fixed sleep decides a test. */
async function until(done: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 5000; !done() && Date.now() < deadline; ) await sleep(20);
}

describe('HeldLease', () => {
  it('renews on its own timer while the work waits, and holds while renewals succeed', async () => {
    let renewals = 0;
    const lease = new HeldLease('job 1', 750, async () => {
      renewals += 1;
      return true;
    });
    const began = performance.now();
    try {
      await until(() => renewals >= 2);
      expect(renewals).to.be.at.least(2);
      // and no faster than three times a lease's life (a 250 ms timer never fires early)
      expect(performance.now() - began, 'two renewals took at least two intervals').to.be.at.least(490);
      expect(renewals).to.be.at.most(Math.floor((performance.now() - began) / 240));
      expect(lease.lost).to.equal(false);
      lease.check();
    } finally {
      lease.release();
    }
  });

  it('is lost once another owner took it: check() throws LeaseLost naming the record', async () => {
    const lease = new HeldLease('schema change x', 750, async () => false);
    try {
      expect(lease.lost, 'before its first renewal').to.equal(false);
      await until(() => lease.lost);
      expect(lease.lost).to.equal(true);
      expect(() => lease.check())
        .to.throw(LeaseLost)
        .with.property('message')
        .that.matches(/schema change x is no longer ours \(another gateway holds it\)/);
    } finally {
      lease.release();
    }
  });

  it('survives a renewal that fails once, and is lost when the catalog stays unreachable for most of a lease', async () => {
    let calls = 0;
    const errors: string[] = [];
    const flaky = new HeldLease('job 2', 750, async () => {
      calls += 1;
      if (calls === 1) throw new Error('connection reset');
      return true;
    }, (err) => errors.push(err.message));
    const down = new HeldLease('job 3', 750, async () => {
      throw new Error('catalog down');
    });
    try {
      await until(() => down.lost && calls >= 2);
      expect(errors).to.include('connection reset');
      expect(flaky.lost).to.equal(false);
      expect(down.lost).to.equal(true);
      expect(() => down.check()).to.throw(LeaseLost, /the catalog could not renew it/);
    } finally {
      flaky.release();
      down.release();
    }
  });

  it('stops renewing once released', async () => {
    let renewals = 0;
    const lease = new HeldLease('job 4', 750, async () => {
      renewals += 1;
      return true;
    });
    lease.release();
    await sleep(400);
    expect(renewals).to.equal(0);
  });
});
