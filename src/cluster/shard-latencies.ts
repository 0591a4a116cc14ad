/** Weight of the newest statement in the running mean: about the last 50 statements count. */
const ALPHA = 0.04;

/**
 * Recent statement latency per shard as this gateway's requests see it (an exponentially
 * weighted mean over every node of the shard): what a tenant move's bulk work watches, so
 * it yields when the shard's tenants start to wait. Fed by the query observer beside the
 * duration metric; a shard with no traffic keeps its last mean.
 */
export class ShardLatencies {
  readonly #mean = new Map<string, number>();

  record(shardId: string, ms: number): void {
    const mean = this.#mean.get(shardId);
    this.#mean.set(shardId, mean === undefined ? ms : mean + ALPHA * (ms - mean));
  }

  /** ms, or undefined before the first statement */
  recent(shardId: string): number | undefined {
    return this.#mean.get(shardId);
  }
}
