import { expect } from 'chai';
import { ShardLatencies } from '../../src/cluster/shard-latencies.js';

describe('ShardLatencies', () => {
  it('knows nothing of a shard before its first statements, and reports the 90th percentile of the recent ones', () => {
    const l = new ShardLatencies();
    expect(l.recent('shard-1')).to.equal(undefined);
    for (let i = 1; i <= 100; i++) l.record('shard-1', i);
    expect(l.recent('shard-1')).to.equal(91);
    expect(l.recent('shard-2')).to.equal(undefined);
  });

  it('forgets statements older than its window: a slow spell passes', () => {
    const l = new ShardLatencies();
    for (let i = 0; i < 256; i++) l.record('shard-1', 500);
    expect(l.recent('shard-1')).to.equal(500);
    for (let i = 0; i < 256; i++) l.record('shard-1', 2);
    expect(l.recent('shard-1')).to.equal(2);
  });
});
