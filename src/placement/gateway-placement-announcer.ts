import type { Logger } from 'pino';
import type { InvalidationBus } from '../cache/invalidation-bus.js';
import type { ReadThroughCache } from '../cache/read-through-cache.js';
import type { PlacementChange, PlacementService } from './placement-service.js';

export interface GatewayPlacementAnnouncerDeps {
  readonly placement: PlacementService;
  /** absent without Redis: the other gateways then see the change at their next version poll */
  readonly bus: Pick<InvalidationBus, 'publish'> | undefined;
  readonly cache: Pick<ReadThroughCache, 'invalidateTenant'>;
  readonly logger: Logger;
}

/**
 * Makes a placement change made here (a move's cutover, a ring change) known: this
 * gateway reloads its placement, the others hear the new catalog version, and the
 * tenants' cached reads are dropped.
 */
export class GatewayPlacementAnnouncer {
  constructor(private readonly deps: GatewayPlacementAnnouncerDeps) {}

  async announce(tenantIds: readonly string[], change?: PlacementChange): Promise<void> {
    const { placement, bus, cache, logger } = this.deps;
    if (change) {
      // a move's flip, inside its tenant's write pause: the held writes go to the new shard
      // now, here and (by broadcast) on every gateway; the reloads confirming it follow
      placement.placed(change.version, change.placed);
      await bus?.publish({ kind: 'catalog', version: change.version.toString(), placed: Object.fromEntries(change.placed) });
      void placement.reload().catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'placement reload after a move failed; the next refresh retries'));
    } else {
      await placement.reload();
      await bus?.publish({ kind: 'catalog', version: placement.table.version.toString() });
    }
    // not awaited: a cutover waits for announce inside the tenant's write pause, and dropping
    // a tenant's cached reads scans Redis' keyspace; the rows they hold are the same on the
    // new shard, so this is hygiene, not correctness
    void Promise.all(tenantIds.map((t) => cache.invalidateTenant(t))).catch((err: unknown) =>
      logger.warn({ err: (err as Error).message, tenants: tenantIds.length }, 'cache invalidation after a placement change failed'),
    );
  }
}
