import type { PlacementTable } from '../placement/placement-table.js';
import type { ShardRegistry } from '../cluster/shard-registry.js';
import type { ShardRouter } from '../cluster/shard-router.js';
import { TenantSession, type ReadPreference, type SessionListener } from './tenant-session.js';

export interface TenantSessionsDeps {
  /** the current placement table (pins over the ring); read at every open, so a reload applies at once */
  readonly placement: { readonly table: PlacementTable };
  readonly registry: ShardRegistry;
  readonly router: ShardRouter;
}

const EVENTUAL: ReadPreference = Object.freeze({ strong: false, token: undefined });

/**
 * Opens a request's session on its tenant's shard: placement (pin, else ring) picks the
 * shard here; the session picks the node on first use.
 */
export class TenantSessions {
  readonly #deps: TenantSessionsDeps;

  constructor(deps: TenantSessionsDeps) {
    this.#deps = Object.freeze({ ...deps });
  }

  open(tenantId: string, preference: ReadPreference = EVENTUAL, listener?: SessionListener): TenantSession {
    const { shardId } = this.#deps.placement.table.shardFor(tenantId);
    return new TenantSession({ tenantId, shard: this.#deps.registry.get(shardId), router: this.#deps.router, preference, listener });
  }
}
