import { expect } from 'chai';
import { LagEstimator } from '../../src/cluster/lag-estimator.js';

describe('LagEstimator', () => {
  it('reads a caught-up replica as zero lag however idle the primary was', () => {
    const e = new LagEstimator();
    e.record(100n, 0);
    expect(e.lagMs(100n, 3_600_000)).to.equal(0);
    expect(e.lagBytes(100n)).to.equal(0);
  });

  it('measures lag from when the first unreplayed WAL appeared', () => {
    const e = new LagEstimator();
    e.record(100n, 1_000);
    e.record(200n, 2_000);
    e.record(300n, 3_000);
    expect(e.lagMs(150n, 3_500)).to.equal(1_500); // 200 appeared at t=2000
    expect(e.lagBytes(150n)).to.equal(150);
    expect(e.lagMs(300n, 3_500)).to.equal(0);
  });

  it('forgets samples outside its window but keeps the oldest relevant one', () => {
    const e = new LagEstimator(1_000);
    for (let t = 0; t <= 10_000; t += 100) e.record(BigInt(t + 1), t);
    expect(e.lagMs(0n, 10_000)).to.be.at.least(1_000);
  });
});
