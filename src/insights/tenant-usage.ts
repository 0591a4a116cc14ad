import type { Logger } from 'pino';
import { addCounts, mergeTenants, zeroCounts, type TenantCounts, type UsageBucket, type UsageCounts, type UsageMetric } from './usage-buckets.js';
import type { UsageStore } from './usage-store.js';

export interface TenantUsageOptions {
  readonly bucketMs: number;
  readonly retentionMs: number;
  readonly flushMs: number;
  readonly topK: number;
  /** tenants in the Prometheus top-tenant gauges */
  readonly metricsTop: number;
  /** the test seam for time */
  readonly now?: () => number;
}

/** The shard of a request that never reached one (refused before its session opened). */
export const UNPLACED = 'none';

/** Tenants one pod tracks in an interval; past it a new tenant counts in its shard's total only. */
const MAX_TRACKED = 10_000;
/** buckets this pod keeps of what it flushed: its own answer when Redis cannot give the fleet's */
const LOCAL_BUCKETS = 120;
/** the window of the Prometheus top-tenant gauges */
const METRICS_WINDOW_MS = 5 * 60_000;

/** A usage answer: the buckets, and whether they are this pod's alone (Redis could not answer). */
export interface UsageRead {
  readonly buckets: UsageBucket[];
  readonly podOnly: boolean;
}

/**
 * Per-tenant accounting on one pod: every request's count, error, rows and database time
 * added in memory (no I/O on the request path), flushed to Redis every `flushMs` — the
 * interval's busiest tenants by each metric only (top-K, so Redis holds a bounded set per
 * pod and interval, not every tenant forever), the rest counted in their shard's totals,
 * which stay exact for the hot-tenant shares. Reads merge every pod's flushes; without
 * Redis they answer from what this pod flushed, and say so.
 */
export class TenantUsage {
  #tenants = new Map<string, { shard: string; counts: UsageCounts }>();
  #shards = new Map<string, UsageCounts>();
  #bucket: number;
  readonly #local = new Map<number, { tenants: Map<string, TenantCounts>; shards: Map<string, UsageCounts> }>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();
  readonly #now: () => number;

  constructor(
    private readonly store: UsageStore | undefined,
    readonly options: TenantUsageOptions,
    private readonly logger: Logger,
    /** asks the other pods to flush theirs before a read (`FleetFlush`) */
    private readonly flushOthers: () => Promise<void> = async () => undefined,
  ) {
    this.#now = options.now ?? Date.now;
    this.#bucket = this.bucketAt(this.#now());
  }

  bucketAt(ms: number): number {
    return Math.floor(ms / this.options.bucketMs);
  }

  /** One finished request of `tenant`, served from `shard`. */
  record(tenant: string, shard: string, counts: UsageCounts): void {
    const bucket = this.bucketAt(this.#now());
    // a request in a new bucket: what the last one gathered goes out under its own number
    if (bucket !== this.#bucket) void this.flush();
    let t = this.#tenants.get(tenant);
    if (!t && this.#tenants.size < MAX_TRACKED) this.#tenants.set(tenant, (t = { shard, counts: zeroCounts() }));
    if (t) {
      // a request refused before its shard was known says nothing of where the tenant lives
      if (shard !== UNPLACED || t.shard === UNPLACED) t.shard = shard;
      addCounts(t.counts, counts);
    }
    let s = this.#shards.get(shard);
    if (!s) this.#shards.set(shard, (s = zeroCounts()));
    addCounts(s, counts);
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.flush(), this.options.flushMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }

  /** What this pod gathered since the last flush, out to Redis (flushes run one after another). */
  flush(): Promise<void> {
    const tenants = this.#tenants;
    const shards = this.#shards;
    const bucket = this.#bucket;
    this.#tenants = new Map();
    this.#shards = new Map();
    this.#bucket = this.bucketAt(this.#now());
    const top = this.#top(tenants);
    this.#keepLocal(bucket, top, shards);
    this.#flushing = this.#flushing.then(async () => {
      if (!this.store || (top.size === 0 && shards.size === 0)) return;
      await this.store.add(bucket, top, shards).catch((err: unknown) => {
        this.logger.warn({ err: (err as Error).message }, 'tenant usage not flushed to Redis: kept on this pod only');
      });
    });
    return this.#flushing;
  }

  /** Buckets from `fromMs` to `toMs` across every pod (this pod's counts flushed first, the others' asked for). */
  async read(fromMs: number, toMs: number): Promise<UsageRead> {
    await Promise.all([this.flush(), this.store ? this.flushOthers() : undefined]);
    const from = this.bucketAt(fromMs);
    const to = this.bucketAt(toMs);
    if (this.store) {
      try {
        return { buckets: await this.store.buckets(from, to), podOnly: false };
      } catch (err) {
        this.logger.warn({ err: (err as Error).message }, 'tenant usage: Redis did not answer; this pod only');
      }
    }
    const buckets = [...this.#local].filter(([b]) => b >= from && b <= to).map(([bucket, v]) => ({ bucket, tenants: v.tenants, shards: v.shards }));
    return { buckets, podOnly: this.store !== undefined };
  }

  /** This pod's busiest tenants by database time over the last minutes (Prometheus). */
  podTop(): Array<{ tenant: string; shard: string; requests: number; dbTimeMs: number }> {
    const since = this.bucketAt(this.#now() - METRICS_WINDOW_MS);
    const recent = [...this.#local].filter(([b]) => b >= since).map(([bucket, v]) => ({ bucket, tenants: v.tenants, shards: v.shards }));
    return [...mergeTenants(recent)]
      .sort(([, a], [, b]) => b.counts.dbTimeMs - a.counts.dbTimeMs)
      .slice(0, this.options.metricsTop)
      .map(([tenant, t]) => ({ tenant, shard: t.shard, requests: t.counts.requests, dbTimeMs: t.counts.dbTimeMs }));
  }

  /** The interval's busiest tenants by each metric: what Redis gets of this pod. */
  #top(tenants: Map<string, { shard: string; counts: UsageCounts }>): Map<string, TenantCounts> {
    if (tenants.size <= this.options.topK) return new Map([...tenants].map(([id, t]) => [id, { shard: t.shard, counts: t.counts }]));
    const out = new Map<string, TenantCounts>();
    const all = [...tenants];
    for (const metric of ['dbTimeMs', 'requests', 'errors', 'rows'] as UsageMetric[]) {
      all.sort(([, a], [, b]) => b.counts[metric] - a.counts[metric]);
      for (const [id, t] of all.slice(0, this.options.topK)) if (t.counts[metric] > 0) out.set(id, { shard: t.shard, counts: t.counts });
    }
    return out;
  }

  #keepLocal(bucket: number, tenants: Map<string, TenantCounts>, shards: Map<string, UsageCounts>): void {
    let kept = this.#local.get(bucket);
    if (!kept) this.#local.set(bucket, (kept = { tenants: new Map(), shards: new Map() }));
    for (const [id, t] of tenants) {
      const k = kept.tenants.get(id);
      if (k) addCounts(k.counts, t.counts);
      kept.tenants.set(id, { shard: t.shard, counts: k?.counts ?? { ...t.counts } });
    }
    for (const [shard, c] of shards) {
      const k = kept.shards.get(shard);
      if (k) addCounts(k, c);
      else kept.shards.set(shard, { ...c });
    }
    for (const b of this.#local.keys()) if (b <= bucket - LOCAL_BUCKETS) this.#local.delete(b);
  }
}
