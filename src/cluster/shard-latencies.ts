/** Statements remembered per shard: the last few seconds of a busy shard's traffic. */
const WINDOW = 256;
/** The quantile reported: the tail the neighbours feel, steadier than the maximum. */
const QUANTILE = 0.9;

class Ring {
  readonly values = new Float64Array(WINDOW);
  count = 0;
  next = 0;
  push(v: number): void {
    this.values[this.next] = v;
    this.next = (this.next + 1) % WINDOW;
    this.count = Math.min(this.count + 1, WINDOW);
  }
}

/**
 * Recent statement latency per shard as this gateway's requests see it (the 90th
 * percentile of its last 256 statements, over every node of the shard): what a tenant
 * move's bulk work watches, so it yields when the shard's tenants start to wait. Fed by
 * the query observer beside the duration metric (O(1) a statement; the percentile is
 * computed only when asked); a shard with no traffic keeps its last window.
 */
export class ShardLatencies {
  readonly #rings = new Map<string, Ring>();

  record(shardId: string, ms: number): void {
    let ring = this.#rings.get(shardId);
    if (!ring) this.#rings.set(shardId, (ring = new Ring()));
    ring.push(ms);
  }

  /** ms, or undefined before the shard's first statements */
  recent(shardId: string): number | undefined {
    const ring = this.#rings.get(shardId);
    if (!ring || ring.count < 16) return undefined;
    const sorted = ring.values.slice(0, ring.count).sort();
    return sorted[Math.min(ring.count - 1, Math.floor(QUANTILE * ring.count))];
  }
}
