import type { UsageBucket } from './usage-buckets.js';

export interface HotTenantRule {
  /** share of the shard's database time, in every bucket of the window */
  readonly share: number;
  readonly sustainBuckets: number;
  /** database time a shard's bucket must have for a share in it to count */
  readonly minShardDbMs: number;
}

/** A tenant that has taken most of its shard's database time for the whole window. */
export interface HotTenantFinding {
  readonly kind: 'hot_tenant';
  readonly tenant: string;
  readonly shard: string;
  /** its smallest share of the shard's database time in any bucket of the window */
  readonly share: number;
  readonly dbTimeMs: number;
  readonly shardDbTimeMs: number;
  /** the window's start */
  readonly since: string;
  readonly buckets: number;
}

/**
 * The hot tenants of `buckets` — the last `rule.sustainBuckets` complete ones, `first` the
 * oldest: a tenant above `rule.share` of its shard's database time in each of them, on a
 * shard busy enough in each (`minShardDbMs`) that a share means load. A missing bucket
 * (no traffic at all) breaks the run.
 */
export function hotTenants(buckets: readonly UsageBucket[], first: number, bucketMs: number, rule: HotTenantRule): HotTenantFinding[] {
  const byNumber = new Map(buckets.map((b) => [b.bucket, b]));
  const runs = new Map<string, { shard: string; share: number; dbTimeMs: number; shardDbTimeMs: number }>();
  for (let n = 0; n < rule.sustainBuckets; n++) {
    const bucket = byNumber.get(first + n);
    if (!bucket) return [];
    const hotHere = new Map<string, { shard: string; share: number; dbTimeMs: number; shardDbTimeMs: number }>();
    for (const [tenant, t] of bucket.tenants) {
      const shardDb = bucket.shards.get(t.shard)?.dbTimeMs ?? 0;
      if (shardDb < rule.minShardDbMs || shardDb <= 0) continue;
      const share = t.counts.dbTimeMs / shardDb;
      if (share < rule.share) continue;
      const before = n === 0 ? { shard: t.shard, share: 1, dbTimeMs: 0, shardDbTimeMs: 0 } : runs.get(tenant);
      // hot in every bucket, on the same shard (a move in the window starts the count again)
      if (!before || before.shard !== t.shard) continue;
      hotHere.set(tenant, { shard: t.shard, share: Math.min(before.share, share), dbTimeMs: before.dbTimeMs + t.counts.dbTimeMs, shardDbTimeMs: before.shardDbTimeMs + shardDb });
    }
    runs.clear();
    for (const [k, v] of hotHere) runs.set(k, v);
  }
  const since = new Date(first * bucketMs).toISOString();
  return [...runs]
    .map(([tenant, r]) => ({
      kind: 'hot_tenant' as const,
      tenant,
      shard: r.shard,
      share: Math.round(r.share * 1000) / 1000,
      dbTimeMs: Math.round(r.dbTimeMs * 10) / 10,
      shardDbTimeMs: Math.round(r.shardDbTimeMs * 10) / 10,
      since,
      buckets: rule.sustainBuckets,
    }))
    .sort((a, b) => b.share - a.share || (a.tenant < b.tenant ? -1 : 1));
}
