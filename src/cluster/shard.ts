import type { ShardNode } from './shard-node.js';

/** A shard is a primary and its replicas. */
export class Shard {
  #next = 0;

  constructor(
    readonly id: string,
    readonly primary: ShardNode,
    readonly replicas: readonly ShardNode[],
  ) {}

  get nodes(): readonly ShardNode[] {
    return [this.primary, ...this.replicas];
  }

  /** Round-robin start index, so eligible replicas share the read load. */
  nextReplicaOffset(): number {
    const offset = this.#next;
    this.#next = (this.#next + 1) % Math.max(1, this.replicas.length);
    return offset;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.nodes.map((node) => node.close()));
  }
}
