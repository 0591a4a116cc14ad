import { expect } from 'chai';
import { decide, podLimits, podShare, pollDelayMs, POLL_MAX_MS, POLL_MIN_MS, renewIntervalMs } from '../../src/limits/slot-math.js';

describe('slot math', () => {
  const limits = { tenant: 3, shard: 10 };

  it('grants below both caps and refuses at either, the tenant checked first', () => {
    expect(decide({ tenant: 0, shard: 0 }, limits)).to.equal('granted');
    expect(decide({ tenant: 2, shard: 9 }, limits)).to.equal('granted');
    expect(decide({ tenant: 3, shard: 0 }, limits)).to.equal('tenant');
    expect(decide({ tenant: 0, shard: 10 }, limits)).to.equal('shard');
    // both full: the tenant is told it is over its own cap (429), not that the shard is down (503)
    expect(decide({ tenant: 3, shard: 10 }, limits)).to.equal('tenant');
    // counts above a cap (leases added back after an outage) still refuse
    expect(decide({ tenant: 1, shard: 12 }, limits)).to.equal('shard');
  });

  it("gives each pod its share of a fleet cap, at least one slot and never more than the cap", () => {
    expect(podShare(24, 3)).to.equal(8);
    expect(podShare(10, 3)).to.equal(3); // rounded down: the pods together stay within the cap
    expect(podShare(2, 20)).to.equal(1); // a pod always serves someone
    expect(podShare(5, 1)).to.equal(5);
    expect(podShare(5, 0)).to.equal(5);
    expect(podLimits({ tenant: 24, shard: 72 }, 3)).to.deep.equal({ tenant: 8, shard: 24 });
    for (let fleet = 1; fleet <= 50; fleet++) {
      for (let pods = 1; pods <= 25; pods++) {
        const share = podShare(fleet, pods);
        expect(share).to.be.within(1, fleet);
        if (fleet >= pods) expect(share * pods).to.be.at.most(fleet);
      }
    }
  });

  it('renews a lease three times in its life', () => {
    expect(renewIntervalMs(3000)).to.equal(1000);
    expect(renewIntervalMs(1000)).to.equal(333);
    expect(renewIntervalMs(2)).to.equal(1);
    // two renewals may be lost before a running request's lease expires
    for (const ttl of [300, 1000, 3000, 60_000]) expect(2 * renewIntervalMs(ttl)).to.be.below(ttl);
  });

  it('spaces the polls of a waiting request from POLL_MIN_MS, doubling up to POLL_MAX_MS, in the upper half of each', () => {
    expect(pollDelayMs(0, 0)).to.equal(POLL_MIN_MS / 2);
    expect(pollDelayMs(0, 0.999_999)).to.be.closeTo(POLL_MIN_MS, 1);
    expect(pollDelayMs(1, 0)).to.equal(POLL_MIN_MS);
    expect(pollDelayMs(2, 0.5)).to.equal(Math.round(0.75 * 4 * POLL_MIN_MS));
    expect(pollDelayMs(50, 1)).to.equal(POLL_MAX_MS);
    for (let attempt = 0; attempt < 40; attempt++) {
      for (const r of [0, 0.25, 0.5, 0.75, 0.999, -1, 2]) {
        const ms = pollDelayMs(attempt, r);
        expect(ms).to.be.within(POLL_MIN_MS / 2, POLL_MAX_MS);
        expect(ms).to.be.at.least(pollDelayMs(Math.max(0, attempt - 1), 0));
      }
    }
  });
});
