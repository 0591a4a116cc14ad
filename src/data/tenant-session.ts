import type { Shard } from '../cluster/shard.js';
import type { Destination, ShardRouter } from '../cluster/router.js';
import type { ConsistencyToken } from '../cluster/consistency-token.js';
import { encodeToken } from '../cluster/consistency-token.js';

export interface ReadPreference {
  /** X-Consistency: strong */
  readonly strong: boolean;
  /** X-Consistency-Token sent back by the client */
  readonly token: ConsistencyToken | undefined;
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
  ) {}

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
