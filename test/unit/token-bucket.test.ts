import { expect } from 'chai';
import fc from 'fast-check';
import { msUntilFull, perPodShare, refill, take, type BucketLimits, type BucketState } from '../../src/limits/token-bucket.js';
import { LocalBuckets } from '../../src/limits/local-buckets.js';

const limits: BucketLimits = { ratePerSec: 10, burst: 5 };

/** Takes from one bucket at the given times; the results in order. */
function run(times: number[], l: BucketLimits = limits): boolean[] {
  let state: BucketState | undefined;
  return times.map((t) => {
    const step = take(state, l, t);
    state = step.state;
    return step.result.allowed;
  });
}

describe('token bucket', () => {
  it('starts full: a burst of `burst` passes, the next one waits for one token', () => {
    expect(run([0, 0, 0, 0, 0, 0])).to.deep.equal([true, true, true, true, true, false]);
    let state: BucketState | undefined;
    for (let i = 0; i < 5; i++) state = take(state, limits, 0).state;
    const denied = take(state, limits, 0).result;
    expect(denied).to.deep.equal({ allowed: false, remaining: 0, retryAfterMs: 100 });
  });

  it('refills at the rate, and never beyond the burst', () => {
    // empty at t=0; 10/s means one token every 100 ms
    expect(run([0, 0, 0, 0, 0, 50, 100, 150, 200])).to.deep.equal([true, true, true, true, true, false, true, false, true]);
    expect(refill({ tokens: 0, at: 0 }, limits, 60_000)).to.deep.equal({ tokens: 5, at: 60_000 });
  });

  it('says how long until a token for fractional buckets', () => {
    const { result } = take({ tokens: 0.25, at: 0 }, { ratePerSec: 0.5, burst: 10 }, 0);
    expect(result.allowed).to.equal(false);
    expect(result.retryAfterMs).to.equal(1500);
  });

  it('neither refills nor drains when the clock goes backwards', () => {
    expect(refill({ tokens: 2, at: 1000 }, limits, 500)).to.deep.equal({ tokens: 2, at: 1000 });
    const { state } = take({ tokens: 2, at: 1000 }, limits, 500);
    expect(state).to.deep.equal({ tokens: 1, at: 1000 });
  });

  it('caps a bucket stored under a larger plan at the new burst', () => {
    expect(refill({ tokens: 400, at: 0 }, limits, 0).tokens).to.equal(5);
  });

  it('knows when a bucket is full again', () => {
    expect(msUntilFull({ tokens: 0, at: 0 }, limits)).to.equal(500);
    expect(msUntilFull({ tokens: 5, at: 0 }, limits)).to.equal(0);
  });

  it("gives each pod its share, never less than one token of burst", () => {
    expect(perPodShare({ ratePerSec: 200, burst: 400 }, 4)).to.deep.equal({ ratePerSec: 50, burst: 100 });
    expect(perPodShare({ ratePerSec: 1, burst: 3 }, 10)).to.deep.equal({ ratePerSec: 0.1, burst: 1 });
  });

  it('never allows more than burst + rate × elapsed, and keeps tokens within [0, burst] (property)', () => {
    fc.assert(
      fc.property(
        fc.record({ ratePerSec: fc.double({ min: 0.01, max: 1000, noNaN: true }), burst: fc.integer({ min: 1, max: 50 }) }),
        fc.array(fc.integer({ min: -50, max: 500 }), { maxLength: 200 }),
        (l, steps) => {
          let now = 0;
          let max = 0;
          let state: BucketState | undefined;
          let allowed = 0;
          for (const dt of steps) {
            now += dt; // a negative step is a clock that went backwards
            max = Math.max(max, now);
            const step = take(state, l, now);
            state = step.state;
            if (step.result.allowed) allowed++;
            expect(state.tokens).to.be.within(0, l.burst);
            if (!step.result.allowed) {
              expect(step.result.retryAfterMs).to.be.above(0);
              // waiting that long really yields a token
              expect(refill(state, l, Math.max(now, state.at) + step.result.retryAfterMs).tokens).to.be.at.least(1 - 1e-9);
            }
          }
          expect(allowed).to.be.at.most(l.burst + Math.floor((max * l.ratePerSec) / 1000) + 1);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('LocalBuckets', () => {
  it('keeps one bucket per key and drops buckets that have refilled (no leak for idle tenants)', () => {
    let now = 0;
    const buckets = new LocalBuckets({ now: () => now, sweepIntervalMs: 1000 });
    for (let i = 0; i < 5; i++) expect(buckets.take('a', limits).allowed).to.equal(true);
    expect(buckets.take('a', limits).allowed).to.equal(false);
    expect(buckets.take('b', limits).allowed).to.equal(true);
    expect(buckets.size).to.equal(2);
    now = 300; // 'b' (4 tokens) is full again after 100 ms, 'a' (0 tokens) after 500 ms
    buckets.sweep();
    expect(buckets.size).to.equal(1);
    now = 2000;
    expect(buckets.take('c', limits).allowed).to.equal(true); // a take past the interval sweeps too
    expect(buckets.size).to.equal(1);
  });

  it('gives back a refunded token, never beyond the burst', () => {
    const now = 0;
    const buckets = new LocalBuckets({ now: () => now });
    for (let i = 0; i < 5; i++) expect(buckets.take('a', limits).allowed).to.equal(true);
    expect(buckets.take('a', limits).allowed).to.equal(false);
    buckets.refund('a', limits);
    expect(buckets.take('a', limits).allowed).to.equal(true);
    expect(buckets.take('a', limits).allowed).to.equal(false);
    for (let i = 0; i < 10; i++) buckets.refund('a', limits);
    for (let i = 0; i < 5; i++) expect(buckets.take('a', limits).allowed).to.equal(true);
    expect(buckets.take('a', limits).allowed).to.equal(false);
  });
});
