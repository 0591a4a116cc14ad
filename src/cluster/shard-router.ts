import type { Shard } from './shard.js';
import type { ShardNode, NodeRole } from './shard-node.js';
import type { ConsistencyToken } from './consistency-token.js';

/** Why a request went to the node it went to (span attribute gateway.route.reason). */
export type RouteReason =
  | 'write' // writes always go to the primary
  | 'strong' // X-Consistency: strong
  | 'lag_ok' // a healthy replica within the lag bound
  | 'token_ok' // a replica that has replayed past the client's consistency token
  | 'token_wait' // no replica has replayed the token yet: the primary answers instead of waiting
  | 'token_shard_changed' // the token names another shard (the tenant moved): only the primary is safe
  | 'no_healthy_replica'; // none healthy and within the lag bound

export type ReadIntent =
  | { readonly kind: 'write' }
  | { readonly kind: 'read'; readonly strong?: boolean; readonly token?: ConsistencyToken };

/** Where one request's queries run, and why. */
export interface Destination {
  readonly shardId: string;
  readonly role: NodeRole;
  readonly node: ShardNode;
  readonly reason: RouteReason;
}

export interface RouterOptions {
  readonly maxReplicaLagMs: number;
  readonly maxReplicaLagBytes: number;
}

/**
 * Picks a node of a shard for a request, from health the monitor already measured: no
 * I/O here, so a decision costs nanoseconds and a sick replica costs nothing per request.
 */
export class ShardRouter {
  constructor(private readonly options: RouterOptions) {}

  route(shard: Shard, intent: ReadIntent): Destination {
    if (intent.kind === 'write') return this.toPrimary(shard, 'write');
    if (intent.strong) return this.toPrimary(shard, 'strong');
    if (intent.token !== undefined && intent.token.shardId !== shard.id) return this.toPrimary(shard, 'token_shard_changed');

    const replica = this.pickReplica(shard, intent.token);
    if (replica !== undefined) {
      return { shardId: shard.id, role: 'replica', node: replica, reason: intent.token ? 'token_ok' : 'lag_ok' };
    }
    return this.toPrimary(shard, intent.token && this.anyEligible(shard) ? 'token_wait' : 'no_healthy_replica');
  }

  private toPrimary(shard: Shard, reason: RouteReason): Destination {
    return { shardId: shard.id, role: 'primary', node: shard.primary, reason };
  }

  private eligible(node: ShardNode): boolean {
    const h = node.health;
    return h.healthy && h.lagMs <= this.options.maxReplicaLagMs && h.lagBytes <= this.options.maxReplicaLagBytes;
  }

  private anyEligible(shard: Shard): boolean {
    return shard.replicas.some((r) => this.eligible(r));
  }

  private pickReplica(shard: Shard, token: ConsistencyToken | undefined): ShardNode | undefined {
    const count = shard.replicas.length;
    if (count === 0) return undefined;
    const start = shard.nextReplicaOffset();
    for (let i = 0; i < count; i++) {
      const node = shard.replicas[(start + i) % count]!;
      if (!this.eligible(node)) continue;
      if (token !== undefined && (node.health.lsn === undefined || node.health.lsn < token.lsn)) continue;
      return node;
    }
    return undefined;
  }
}
