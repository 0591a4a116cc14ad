/** What a tenant's requests cost in one bucket of time (or a window of them). */
export interface UsageCounts {
  requests: number;
  errors: number;
  rows: number;
  dbTimeMs: number;
}

export const USAGE_METRICS = ['requests', 'errors', 'rows', 'dbTimeMs'] as const;
export type UsageMetric = (typeof USAGE_METRICS)[number];

/** One tenant's counts and the shard it was served from (the last one seen, across a move). */
export interface TenantCounts {
  readonly shard: string;
  readonly counts: UsageCounts;
}

/** One bucket of the fleet's usage: its busiest tenants, and every shard's total (tenants outside the top counted there too). */
export interface UsageBucket {
  /** the bucket's number: its start over the bucket length */
  readonly bucket: number;
  readonly tenants: ReadonlyMap<string, TenantCounts>;
  readonly shards: ReadonlyMap<string, UsageCounts>;
}

export const zeroCounts = (): UsageCounts => ({ requests: 0, errors: 0, rows: 0, dbTimeMs: 0 });

export function addCounts(into: UsageCounts, from: UsageCounts): void {
  into.requests += from.requests;
  into.errors += from.errors;
  into.rows += from.rows;
  into.dbTimeMs += from.dbTimeMs;
}

/** One row of a usage answer: the counts rounded for JSON (database time to 0.1 ms). */
export function rounded(c: UsageCounts): UsageCounts {
  return { requests: Math.round(c.requests), errors: Math.round(c.errors), rows: Math.round(c.rows), dbTimeMs: Math.round(c.dbTimeMs * 10) / 10 };
}

/** `15m`, `90s`, `1h`, `2d` in ms; undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d{1,6})(s|m|h|d)$/.exec(text);
  if (!m) return undefined;
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
  const ms = Number(m[1]) * unit;
  return ms > 0 ? ms : undefined;
}

/** Buckets merged per tenant: their counts summed, the latest bucket's shard kept. */
export function mergeTenants(buckets: readonly UsageBucket[]): Map<string, TenantCounts> {
  const merged = new Map<string, { shard: string; counts: UsageCounts; seen: number }>();
  for (const b of buckets) {
    for (const [tenant, t] of b.tenants) {
      let m = merged.get(tenant);
      if (!m) merged.set(tenant, (m = { shard: t.shard, counts: zeroCounts(), seen: b.bucket }));
      addCounts(m.counts, t.counts);
      if (b.bucket >= m.seen) {
        m.shard = t.shard;
        m.seen = b.bucket;
      }
    }
  }
  return new Map([...merged].map(([tenant, m]) => [tenant, { shard: m.shard, counts: m.counts }]));
}

/** The tenants ranked by one metric, ties broken by id so the answer is stable. */
export function topTenants(buckets: readonly UsageBucket[], by: UsageMetric, limit: number): Array<{ tenant: string; shard: string } & UsageCounts> {
  return [...mergeTenants(buckets)]
    .map(([tenant, t]) => ({ tenant, shard: t.shard, ...rounded(t.counts) }))
    .sort((a, b) => b[by] - a[by] || (a.tenant < b.tenant ? -1 : 1))
    .slice(0, limit);
}
