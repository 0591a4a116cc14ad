import type { RequestHandler, Router } from 'express';
import type { PlacementService } from '../../placement/placement-service.js';
import { GatewayError, TenantFencedError } from '../../errors/errors.js';
import { FENCED_SQLSTATE } from '../../data/translate-db-error.js';
import { sessionOf, tenantOf } from './tenant-context.js';

export interface FencedRetryOptions {
  /** ms to wait for the placement to move on before answering 503 (the fence lasts until cutover) */
  readonly waitMs: number;
}

/** The fence error a request failed with, typed; undefined for any other error. */
export function fencedError(err: unknown): GatewayError | undefined {
  if (err instanceof GatewayError) return err.code === 'TENANT_FENCED' ? err : undefined;
  // a repository that did not translate its error still carries the trigger's SQLSTATE
  for (let e: unknown = err, depth = 0; typeof e === 'object' && e !== null && depth < 5; depth++) {
    const { code, parent, original, cause } = e as { code?: unknown; parent?: unknown; original?: unknown; cause?: unknown };
    if (code === FENCED_SQLSTATE) return new TenantFencedError('(source)', { cause: err });
    e = parent ?? original ?? cause;
  }
  return undefined;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A write refused by the source's move fence fails atomically (the trigger aborts the
 * transaction), so it can safely run again. This wraps the tenant API: on TENANT_FENCED
 * it refreshes the placement (briefly, while the move reaches cutover) and, once the
 * tenant's shard has changed, dispatches the request once more, now to the new shard.
 * If the placement does not move in time, the client gets the 503 with Retry-After.
 */
export function retryFencedWrites(api: Router, placement: PlacementService, options: FencedRetryOptions): RequestHandler {
  let refreshing: Promise<void> | undefined;
  // one catalog round trip for all the requests fenced at once
  const refresh = () => {
    refreshing ??= placement.refresh().finally(() => {
      refreshing = undefined;
    });
    return refreshing;
  };

  const placementMoved = async (tenantId: string, shardId: string): Promise<boolean> => {
    const deadline = performance.now() + options.waitMs;
    let reloaded = false;
    for (let delay = 25; ; delay = Math.min(delay * 2, 400)) {
      // a reload just happened: the table is as fresh as a refresh would make it, skip the round trip
      if (!reloaded) await refresh().catch(() => undefined);
      if (placement.table.shardFor(tenantId).shardId !== shardId) return true;
      if (performance.now() + delay > deadline) return false;
      // the cutover's broadcast reloads the placement: retry then, not at the next poll
      reloaded = await Promise.race([sleep(delay).then(() => false), placement.nextReload().then(() => true)]);
    }
  };

  return (req, res, next) => {
    api(req, res, (err?: unknown) => {
      const fenced = err === undefined ? undefined : fencedError(err);
      if (fenced === undefined || res.headersSent) {
        next(err);
        return;
      }
      let tenantId: string;
      let shardId: string;
      try {
        tenantId = tenantOf(res).id;
        shardId = sessionOf(res).shard.id;
      } catch {
        next(fenced);
        return;
      }
      placementMoved(tenantId, shardId).then(
        (moved) => (moved ? api(req, res, next) : next(fenced)),
        () => next(fenced),
      );
    });
  };
}
