import type { PlacementChange } from '../placement/placement-service.js';

export type { PlacementChange };

/** What rebalancing needs told after it changes placement in the catalog (the gateway's implementation: placement/). */
export interface PlacementAnnouncer {
  /**
   * Routes the change on this gateway and tells every other gateway, drops the tenants'
   * cached reads. With `change` (a move's flip) the tenants are routed at once and the
   * reload that confirms it follows; without, this gateway reloads first.
   */
  announce(tenantIds: readonly string[], change?: PlacementChange): Promise<void>;
}
