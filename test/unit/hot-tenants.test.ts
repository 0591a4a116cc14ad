import { expect } from 'chai';
import { hotTenants } from '../../src/insights/hot-tenants.js';
import { parseDuration, topTenants, type UsageBucket, type UsageCounts } from '../../src/insights/usage-buckets.js';

const counts = (dbTimeMs: number, requests = 1): UsageCounts => ({ requests, errors: 0, rows: requests, dbTimeMs });
const bucket = (n: number, tenants: Record<string, [string, number]>, shards: Record<string, number>): UsageBucket => ({
  bucket: n,
  tenants: new Map(Object.entries(tenants).map(([t, [shard, db]]) => [t, { shard, counts: counts(db) }])),
  shards: new Map(Object.entries(shards).map(([s, db]) => [s, counts(db)])),
});
const rule = { share: 0.5, sustainBuckets: 3, minShardDbMs: 100 };

describe('hot tenants: the detector over usage buckets', () => {
  it('finds a tenant above the share of its shard in every bucket of the window, with its smallest share', () => {
    const buckets = [10, 11, 12].map((n) => bucket(n, { hot: ['s1', 600 + n], calm: ['s1', 100] }, { s1: 1000 }));
    const found = hotTenants(buckets, 10, 60_000, rule);
    expect(found).to.have.length(1);
    expect(found[0]).to.deep.include({ kind: 'hot_tenant', tenant: 'hot', shard: 's1', share: 0.61, dbTimeMs: 1833, shardDbTimeMs: 3000, buckets: 3 });
    expect(found[0]!.since).to.equal(new Date(10 * 60_000).toISOString());
  });

  it('finds none when one bucket of the window dips below the share, is missing, is idle, or the tenant moved', () => {
    const hotIn = (n: number, db: number, shard = 's1') => bucket(n, { hot: [shard, db] }, { s1: 1000, s2: 1000 });
    expect(hotTenants([hotIn(10, 600), hotIn(11, 400), hotIn(12, 600)], 10, 1000, rule)).to.deep.equal([]);
    expect(hotTenants([hotIn(10, 600), hotIn(12, 600)], 10, 1000, rule)).to.deep.equal([]);
    expect(hotTenants([hotIn(10, 600), hotIn(11, 600, 's2'), hotIn(12, 600)], 10, 1000, rule)).to.deep.equal([]);
    const idle = [10, 11, 12].map((n) => bucket(n, { hot: ['s1', 50] }, { s1: 50 }));
    expect(hotTenants(idle, 10, 1000, rule)).to.deep.equal([]);
  });
});

describe('usage buckets', () => {
  it('ranks tenants over buckets by a metric, summed, with the latest shard', () => {
    const buckets = [bucket(1, { a: ['s1', 5], b: ['s2', 9] }, {}), bucket(2, { a: ['s3', 7] }, {})];
    expect(topTenants(buckets, 'dbTimeMs', 5).map((r) => [r.tenant, r.shard, r.dbTimeMs, r.requests])).to.deep.equal([
      ['a', 's3', 12, 2],
      ['b', 's2', 9, 1],
    ]);
    expect(topTenants(buckets, 'requests', 1).map((r) => r.tenant)).to.deep.equal(['a']);
  });

  it('reads durations in s, m, h and d, and nothing else', () => {
    expect(parseDuration('90s')).to.equal(90_000);
    expect(parseDuration('15m')).to.equal(900_000);
    expect(parseDuration('1h')).to.equal(3_600_000);
    expect(parseDuration('2d')).to.equal(172_800_000);
    for (const bad of ['0s', '1.5m', '1w', 'm', '', ' 1m', '1m ']) expect(parseDuration(bad), bad).to.equal(undefined);
  });
});
