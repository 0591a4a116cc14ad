import type { Shard } from '../cluster/shard.js';
import type { Destination, ShardRouter } from '../cluster/router.js';
import type { ConsistencyToken } from '../cluster/consistency-token.js';
import { encodeToken } from '../cluster/consistency-token.js';
import type { ShardNode } from '../cluster/shard-node.js';
import { GatewayError, ShardUnavailableError } from '../errors/errors.js';

export interface ReadPreference {
  /** X-Consistency: strong */
  readonly strong: boolean;
  /** X-Consistency-Token sent back by the client */
  readonly token: ConsistencyToken | undefined;
}

/**
 * Failures a read may retry elsewhere: the node is unreachable, or (a replica only) the
 * query was cancelled by a conflict with WAL replay (SQLSTATE 40001 on a standby).
 */
function retryableOnAnotherNode(err: unknown): boolean {
  if (!(err instanceof GatewayError)) return false;
  if (err.code === 'SHARD_UNAVAILABLE') return true;
  const state = (err.cause as { parent?: { code?: string } } | undefined)?.parent?.code;
  return err.code === 'CONFLICT' && state === '40001';
}

/**
 * One request's access to its tenant's shard. The routing decision is made once, on
 * first use, and reported through `onRoute` (headers, span attributes); repositories
 * only ever see the chosen node, so they cannot pick the wrong one.
 */
export class TenantSession {
  #destination: Destination | undefined;

  constructor(
    readonly tenantId: string,
    readonly shard: Shard,
    private readonly router: ShardRouter,
    private readonly preference: ReadPreference,
    private readonly onRoute: (destination: Destination) => void,
    /** a request saw this node fail: take it out of rotation until its next good probe */
    private readonly reportFailure: (node: ShardNode, err: Error) => void = () => undefined,
  ) {}

  /**
   * Runs a read on the routed node. Reads are idempotent, so when a replica fails at the
   * connection level the read is retried once on the next choice (another replica, or the
   * primary): a killed replica costs no failed reads.
   */
  async read<T>(work: (node: ShardNode) => Promise<T>): Promise<T> {
    const first = this.forRead();
    try {
      return await work(first.node);
    } catch (err) {
      if (first.role !== 'replica' || !retryableOnAnotherNode(err)) throw err;
      // a replay conflict is the query's bad luck, not the node's: only outages leave rotation
      if ((err as GatewayError).code === 'SHARD_UNAVAILABLE') this.reportFailure(first.node, err as Error);
      this.#destination = undefined;
      return work(this.forRead().node);
    }
  }

  /** true for reads that may be served from a cache: no consistency token, not strong */
  get eventual(): boolean {
    return !this.preference.strong && this.preference.token === undefined;
  }

  /** Where a read would go, without committing to it (no headers, no span). */
  peekRead(): Destination {
    return this.#destination ?? this.router.route(this.shard, { kind: 'read', strong: this.preference.strong, token: this.preference.token });
  }

  forRead(): Destination {
    return this.decide(() => this.router.route(this.shard, { kind: 'read', strong: this.preference.strong, token: this.preference.token }));
  }

  forWrite(): Destination {
    // a request that writes after reading still writes to the primary
    if (this.#destination?.role === 'replica') this.#destination = undefined;
    const primary = this.shard.primary.health;
    // circuit breaker: while probes find the primary down, fail fast instead of queueing
    // on connect and statement timeouts (reads still go to replicas within the lag bound)
    if (!primary.healthy && primary.checkedAt > 0) {
      throw new ShardUnavailableError(this.shard.id, { cause: new Error(primary.error ?? 'primary down'), retryAfterSeconds: 1 });
    }
    return this.decide(() => this.router.route(this.shard, { kind: 'write' }));
  }

  private decide(route: () => Destination): Destination {
    if (this.#destination === undefined) {
      this.#destination = route();
      this.onRoute(this.#destination);
    }
    return this.#destination;
  }

  /**
   * The token for the response to a committed write: the primary's WAL position now.
   * If the primary cannot be asked, the write has still committed: answer without a token
   * rather than turn a success into an error the client might retry.
   */
  async consistencyToken(): Promise<string | undefined> {
    try {
      const lsn = await this.shard.primary.currentWalLsn();
      return lsn === undefined ? undefined : encodeToken({ shardId: this.shard.id, lsn });
    } catch {
      return undefined;
    }
  }
}
