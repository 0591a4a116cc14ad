import { expect } from 'chai';
import { latenciesIn, longestGap, percentile, slowestOverlapping, type Sample } from '../../bench/move-stats.js';

const s = (start: number, end: number, status = 200, shard?: string): Sample => ({ start, end, status, ...(shard ? { shard } : {}) });

// The move scenario's numbers are only as honest as this arithmetic (bench/move.ts).
describe('bench move statistics', () => {
  it('percentile is nearest-rank: an observed value, p99 of a few moves is their maximum', () => {
    expect(percentile([], 0.99)).to.equal(null);
    expect(percentile([30, 10, 20], 0.5)).to.equal(20);
    expect(percentile([30, 10, 20], 0.99)).to.equal(30);
    expect(percentile(Array.from({ length: 100 }, (_, i) => i + 1), 0.99)).to.equal(99);
  });

  it('the write pause is the slowest write that overlapped the move, whenever it started', () => {
    const writes = [s(0, 10), s(95, 700), s(120, 130), s(990, 1000), s(2000, 2010)];
    expect(slowestOverlapping(writes, { from: 100, to: 1000 })).to.equal(605);
    expect(slowestOverlapping(writes, { from: 3000, to: 4000 })).to.equal(null);
  });

  it('the longest gap counts only successful completions, and closes at the first one after the move', () => {
    const writes = [s(0, 90), s(100, 150), s(150, 400, 503), s(160, 800), s(900, 1100)];
    // 150 → 800: the 503 at 400 is no progress
    expect(longestGap(writes, { from: 100, to: 1000 })).to.equal(650);
    // nothing succeeded after 150: the tail runs to the window's end
    expect(longestGap([s(0, 90), s(100, 150)], { from: 100, to: 1000 })).to.equal(850);
  });

  it('others are compared by when their requests started, on the shards asked for', () => {
    const others = [s(0, 5, 200, 'shard-1'), s(50, 80, 200, 'shard-2'), s(60, 61, 200, 'shard-3'), s(200, 210, 200, 'shard-1')];
    const onMoving = (x: Sample) => x.shard === 'shard-1' || x.shard === 'shard-2';
    expect(latenciesIn(others, [{ from: 0, to: 100 }], onMoving)).to.deep.equal([5, 30]);
    expect(latenciesIn(others, [{ from: 0, to: 10 }, { from: 150, to: 300 }])).to.deep.equal([5, 10]);
  });
});
