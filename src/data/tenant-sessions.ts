import type { PlacementTable } from '../placement/placement-table.js';
import type { ShardRegistry } from '../cluster/shard-registry.js';
import type { ShardRouter } from '../cluster/shard-router.js';
import type { ConsistencyTokens } from '../cluster/consistency-token.js';
import { PlacementStaleError, ValidationError } from '../errors/errors.js';
import { TenantSession, type SessionListener } from './tenant-session.js';

export interface TenantSessionsDeps {
  /** the current placement table (pins over the ring); read at every open, so a reload applies at once */
  readonly placement: { readonly table: PlacementTable; staleForMs(): number };
  /**
   * ms the placement stays good for writes since the catalog last confirmed it (0: no
   * lease): past it a write could reach a shard its tenant left long ago, whose tombstone
   * fence may be gone, so writes are refused until the catalog answers again
   */
  readonly writeLeaseMs?: number;
  readonly registry: ShardRegistry;
  readonly router: ShardRouter;
  readonly tokens: ConsistencyTokens;
}

/** What the request asked for: X-Consistency: strong, and the X-Consistency-Token it sent back. */
export interface RequestedConsistency {
  readonly strong: boolean;
  readonly token?: string | undefined;
}

const EVENTUAL: RequestedConsistency = Object.freeze({ strong: false });

/**
 * Opens a request's session on its tenant's shard: placement (pin, else ring) picks the
 * shard here; the session picks the node on first use.
 */
export class TenantSessions {
  readonly #deps: TenantSessionsDeps;
  readonly #writeGate: (() => void) | undefined;

  constructor(deps: TenantSessionsDeps) {
    this.#deps = Object.freeze({ ...deps });
    const lease = deps.writeLeaseMs ?? 0;
    this.#writeGate = lease > 0
      ? () => {
          const stale = deps.placement.staleForMs();
          if (stale > lease) throw new PlacementStaleError(stale);
        }
      : undefined;
  }

  /** Refuses (400) a token this fleet did not issue to this tenant. */
  open(tenantId: string, requested: RequestedConsistency = EVENTUAL, listener?: SessionListener): TenantSession {
    let token;
    if (requested.token !== undefined) {
      token = this.#deps.tokens.open(requested.token, tenantId);
      if (token === undefined) throw new ValidationError('X-Consistency-Token', 'X-Consistency-Token is not a token this gateway issued');
    }
    const { shardId } = this.#deps.placement.table.shardFor(tenantId);
    const { registry, router, tokens } = this.#deps;
    return new TenantSession({ tenantId, shard: registry.get(shardId), router, tokens, preference: { strong: requested.strong, token }, listener, writeGate: this.#writeGate });
  }
}
