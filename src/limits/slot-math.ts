/**
 * Concurrency-slot arithmetic, pure: the per-pod fallback decides with it in process, and
 * the Redis script in `slot-lease-script.ts` makes the same decision in Lua over the leases
 * of every pod. A slot is one request doing database work; a lease is a slot held in Redis
 * until its expiry, renewed while the request runs.
 */

/** Caps on concurrent requests doing database work. */
export interface SlotLimits {
  /** one tenant's requests */
  readonly tenant: number;
  /** every tenant's requests on one shard */
  readonly shard: number;
}

/** Slots held now, counted the same way as the limits. */
export interface SlotsInUse {
  readonly tenant: number;
  readonly shard: number;
}

/** `granted`, or which cap refused: the tenant's own (its fault: 429) or the shard's (503). */
export type SlotVerdict = 'granted' | 'tenant' | 'shard';

/**
 * The tenant's cap is checked first: a tenant over its own cap is told so (429) even when
 * the shard is full too, so a noisy tenant never reads its own excess as the shard's outage.
 */
export function decide(inUse: SlotsInUse, limits: SlotLimits): SlotVerdict {
  if (inUse.tenant >= limits.tenant) return 'tenant';
  if (inUse.shard >= limits.shard) return 'shard';
  return 'granted';
}

/** A pod's share of a fleet-wide cap while it cannot ask Redis: at least one slot, never more than the cap. */
export function podShare(fleetCap: number, expectedPods: number): number {
  return Math.max(1, Math.floor(fleetCap / Math.max(1, expectedPods)));
}

/** Both caps divided among the expected pods. */
export function podLimits(limits: SlotLimits, expectedPods: number): SlotLimits {
  return { tenant: podShare(limits.tenant, expectedPods), shard: podShare(limits.shard, expectedPods) };
}

/**
 * How often held leases are renewed: three times a lease's life, so that one renewal lost
 * to a slow Redis reply does not let a running request's lease expire under it.
 */
export function renewIntervalMs(leaseTtlMs: number): number {
  return Math.max(1, Math.floor(leaseTtlMs / 3));
}

/** Bounds of a waiting request's polls (another pod's release is not heard: a waiter asks again). */
export const POLL_MIN_MS = 20;
export const POLL_MAX_MS = 250;

/**
 * ms before a waiting request asks again after its `attempt`-th refusal (0-based): doubling
 * from POLL_MIN_MS to POLL_MAX_MS, each delay drawn from its upper half (`random` in [0, 1))
 * so that waiters on several pods do not ask in lockstep.
 */
export function pollDelayMs(attempt: number, random: number): number {
  const ceiling = Math.min(POLL_MAX_MS, POLL_MIN_MS * 2 ** Math.max(0, Math.min(attempt, 16)));
  return Math.round(ceiling / 2 + (ceiling / 2) * Math.min(Math.max(random, 0), 1));
}
