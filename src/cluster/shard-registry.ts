import { Shard } from './shard.js';
import { ShardNode, type NodeSettings } from './shard-node.js';
import type { StatementObserver } from './statement-observer.js';
import type { ModelDeps } from '../models/index.js';
import { GatewayError } from '../errors/errors.js';

/** What the registry needs to know of a shard: where its nodes are. */
export interface ShardTopology {
  readonly id: string;
  /** the request role's URLs: what this registry connects with */
  readonly primary: string;
  readonly replicas: ReadonlyArray<string | { readonly name: string; readonly url: string }>;
  /** the privileged role's URLs (migrations, moves, export/import); absent: the request URLs serve both */
  readonly admin?: { readonly primary: string; readonly replicas: ShardTopology['replicas'] } | undefined;
}

/** The privileged role's URL of a shard's primary. */
export function adminPrimaryUrl(shard: Pick<ShardTopology, 'primary' | 'admin'>): string {
  return shard.admin?.primary ?? shard.primary;
}

/** A replica's name is what operators see in X-Served-By and metrics: host:port unless named. */
export function replicaName(replica: ShardTopology['replicas'][number]): string {
  if (typeof replica !== 'string') return replica.name;
  try {
    const url = new URL(replica);
    return `${url.hostname}:${url.port || '5432'}`;
  } catch {
    return replica;
  }
}

function replicaUrl(replica: ShardTopology['replicas'][number]): string {
  return typeof replica === 'string' ? replica : replica.url;
}

/** Every shard the gateway can reach, by id, each with live connections to its nodes. */
export class ShardRegistry {
  readonly #shards = new Map<string, Shard>();

  constructor(
    private readonly settings: NodeSettings,
    private readonly modelDeps: ModelDeps,
    private readonly observer?: StatementObserver,
  ) {}

  /** Opens connections for a shard (idempotent for a shard already known). */
  add(topology: ShardTopology): Shard {
    const existing = this.#shards.get(topology.id);
    if (existing) return existing;
    const primary = new ShardNode(topology.id, 'primary', 'primary', topology.primary, this.settings, this.modelDeps, this.observer);
    const replicas = topology.replicas.map(
      (r) => new ShardNode(topology.id, 'replica', replicaName(r), replicaUrl(r), this.settings, this.modelDeps, this.observer),
    );
    const shard = new Shard(topology.id, primary, replicas);
    this.#shards.set(topology.id, shard);
    return shard;
  }

  get(shardId: string): Shard {
    const shard = this.#shards.get(shardId);
    if (!shard) throw new GatewayError('SHARD_UNAVAILABLE', `Shard ${shardId} is not known to this gateway`, { retryAfterSeconds: 1 });
    return shard;
  }

  has(shardId: string): boolean {
    return this.#shards.has(shardId);
  }

  all(): readonly Shard[] {
    return [...this.#shards.values()];
  }

  /** A node by its shard and name ('primary' or the replica's), if the registry has it. */
  node(shardId: string, name: string): ShardNode | undefined {
    return this.#shards.get(shardId)?.nodes.find((n) => n.name === name);
  }

  async remove(shardId: string): Promise<void> {
    const shard = this.#shards.get(shardId);
    this.#shards.delete(shardId);
    await shard?.close();
  }

  async close(): Promise<void> {
    const shards = this.all();
    this.#shards.clear();
    await Promise.allSettled(shards.map((s) => s.close()));
  }
}
