import { z } from 'zod';

const usageShape = z
  .object({
    /** ms of one usage bucket: the finest step of `/admin/tenants/:id/usage` and of the hot-tenant detector */
    bucketMs: z.number().int().min(1000).max(3_600_000).default(60_000),
    /** ms usage is kept in Redis: the longest window the usage endpoints answer */
    retentionMs: z.number().int().min(60_000).max(7 * 86_400_000).default(6 * 3_600_000),
    /** ms between a pod's flushes of its counts to Redis */
    flushMs: z.number().int().min(100).max(60_000).default(2000),
    /** ms a usage read waits for the other pods to flush theirs when it asks them (a pod that does not answer is read as last flushed) */
    flushWaitMs: z.number().int().min(0).max(10_000).default(500),
    /** tenants a pod writes per flush and metric: its busiest (the rest are counted in their shard's total only) */
    topK: z.number().int().min(1).max(1000).default(50),
    /** tenants in this pod's Prometheus top-tenant gauges */
    metricsTop: z.number().int().min(0).max(100).default(10),
  })
  .strict()
  .prefault({});

const slowQueriesShape = z
  .object({
    /** recent slow statements kept, fleet-wide */
    keep: z.number().int().min(1).max(10_000).default(200),
    /** ms an EXPLAIN for a slow statement's plan may take */
    planTimeoutMs: z.number().int().min(100).max(60_000).default(2000),
    /** ms before the same statement's plan is asked again (an overloaded shard is not explained to death) */
    planEveryMs: z.number().int().min(0).default(60_000),
  })
  .strict()
  .prefault({});

const hotTenantsShape = z
  .object({
    /** a tenant above this share of its shard's database time, in every bucket of the window, is hot */
    share: z.number().gt(0).max(1).default(0.5),
    /** buckets in a row the share must hold */
    sustainBuckets: z.number().int().min(1).max(1440).default(5),
    /** ms of database time a bucket of the shard must have for a share in it to count (an idle shard has no hot tenant) */
    minShardDbMs: z.number().min(0).default(1000),
    /** move a hot tenant to the least-loaded shard without an operator (off: findings only) */
    autoIsolate: z.boolean().default(false),
    /** ms after an isolation before the same tenant may be isolated again */
    cooldownMs: z.number().int().min(0).default(3_600_000),
  })
  .strict()
  .prefault({});

/** config.insights: tenant usage, slow statements and the hot-tenant detector (docs/insights.md). */
export const insightsConfigShape = z
  .object({ usage: usageShape, slowQueries: slowQueriesShape, hotTenants: hotTenantsShape })
  .strict()
  .prefault({});
