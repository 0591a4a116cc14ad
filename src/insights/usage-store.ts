import type { Redis } from 'ioredis';
import { USAGE_METRICS, zeroCounts, type TenantCounts, type UsageBucket, type UsageCounts, type UsageMetric } from './usage-buckets.js';

const PREFIX = 'shardgate:usage:';
const tenantsKey = (bucket: number, metric: UsageMetric) => `${PREFIX}${bucket}:t:${metric}`;
const whereKey = (bucket: number) => `${PREFIX}${bucket}:where`;
const shardsKey = (bucket: number) => `${PREFIX}${bucket}:s`;

/**
 * The fleet's usage in Redis, one set of keys a bucket: a sorted set per metric (tenant →
 * its sum over every pod), the tenants' shards, and every shard's totals; every key expires
 * after the retention. Pods add to a bucket with ZINCRBY / HINCRBYFLOAT, so their flushes
 * never overwrite each other's.
 */
export class UsageStore {
  constructor(
    private readonly redis: Redis,
    private readonly retentionMs: number,
    private readonly bucketMs: number,
  ) {}

  async add(bucket: number, tenants: ReadonlyMap<string, TenantCounts>, shards: ReadonlyMap<string, UsageCounts>): Promise<void> {
    const p = this.redis.pipeline();
    const ttl = this.retentionMs + this.bucketMs;
    for (const metric of USAGE_METRICS) {
      const key = tenantsKey(bucket, metric);
      for (const [tenant, t] of tenants) if (t.counts[metric] !== 0) p.zincrby(key, t.counts[metric], tenant);
      p.pexpire(key, ttl);
    }
    if (tenants.size > 0) {
      p.hset(whereKey(bucket), Object.fromEntries([...tenants].map(([tenant, t]) => [tenant, t.shard])));
      p.pexpire(whereKey(bucket), ttl);
    }
    for (const [shard, c] of shards) for (const metric of USAGE_METRICS) if (c[metric] !== 0) p.hincrbyfloat(shardsKey(bucket), `${metric}|${shard}`, c[metric]);
    p.pexpire(shardsKey(bucket), ttl);
    const results = await p.exec();
    const failed = results?.find(([err]) => err !== null);
    if (failed) throw failed[0];
  }

  /** Buckets `from` to `to` (inclusive), as every pod has flushed them. */
  async buckets(from: number, to: number): Promise<UsageBucket[]> {
    const p = this.redis.pipeline();
    for (let b = from; b <= to; b++) {
      for (const metric of USAGE_METRICS) p.zrange(tenantsKey(b, metric), '0', '-1', 'WITHSCORES');
      p.hgetall(whereKey(b));
      p.hgetall(shardsKey(b));
    }
    const results = (await p.exec()) ?? [];
    const out: UsageBucket[] = [];
    const per = USAGE_METRICS.length + 2;
    for (let b = from, i = 0; b <= to; b++, i += per) {
      const answers = results.slice(i, i + per).map(([err, value]) => {
        if (err) throw err;
        return value;
      });
      const where = answers[USAGE_METRICS.length] as Record<string, string>;
      const tenants = new Map<string, TenantCounts>();
      USAGE_METRICS.forEach((metric, m) => {
        const flat = answers[m] as string[];
        for (let k = 0; k < flat.length; k += 2) {
          const tenant = flat[k]!;
          let t = tenants.get(tenant);
          if (!t) tenants.set(tenant, (t = { shard: where[tenant] ?? 'unknown', counts: zeroCounts() }));
          t.counts[metric] = Number(flat[k + 1]);
        }
      });
      const shards = new Map<string, UsageCounts>();
      for (const [field, value] of Object.entries(answers[USAGE_METRICS.length + 1] as Record<string, string>)) {
        const bar = field.indexOf('|');
        const metric = field.slice(0, bar) as UsageMetric;
        const shard = field.slice(bar + 1);
        if (!USAGE_METRICS.includes(metric)) continue;
        let c = shards.get(shard);
        if (!c) shards.set(shard, (c = zeroCounts()));
        c[metric] = Number(value);
      }
      if (tenants.size > 0 || shards.size > 0) out.push({ bucket: b, tenants, shards });
    }
    return out;
  }
}
