import type { PinRow, ShardRow } from '../catalog/catalog-store.js';
import { PlacementTable } from '../placement/placement.js';
import { Ring } from '../placement/ring.js';

/** What a plan is computed from: the catalog as one transaction saw it. */
export interface CatalogSnapshot {
  readonly tenantIds: readonly string[];
  readonly shards: readonly ShardRow[];
  readonly pins: readonly PinRow[];
}

export interface PlannedMove {
  readonly tenant: string;
  readonly from: string;
  readonly to: string;
}

export interface Plan {
  readonly moves: readonly PlannedMove[];
  /** temporary pins a previous job left where the new ring already places the tenant: drop them */
  readonly staleTemporaryPins: readonly string[];
}

/** Pins a rebalance or drain sets to hold tenants in place while the ring changes; every other pin is an operator's. */
export function isTemporaryPin(reason: string): boolean {
  return reason.startsWith('rebalance:') || reason.startsWith('drain:');
}

export function ringOf(shards: readonly ShardRow[], states: readonly ShardRow['state'][]): Ring {
  return new Ring(shards.filter((s) => states.includes(s.state)).map((s) => ({ shardId: s.id, weight: s.weight })));
}

/** Where each tenant is now: its pin, else the ring of the active shards. */
export function currentPlacement(snapshot: CatalogSnapshot): PlacementTable {
  return new PlacementTable(ringOf(snapshot.shards, ['active']), new Map(snapshot.pins.map((p) => [p.tenantId, p.shardId])), 0n);
}

/**
 * Rebalance: the ring of every active and standby shard against where tenants are now.
 * Tenants an operator pinned stay put; temporary pins (of an earlier, unfinished job)
 * count as no pin.
 */
export function planRebalance(snapshot: CatalogSnapshot): Plan {
  const now = currentPlacement(snapshot);
  const ring = ringOf(snapshot.shards, ['active', 'standby']);
  const pins = new Map(snapshot.pins.map((p) => [p.tenantId, p]));
  const moves: PlannedMove[] = [];
  const staleTemporaryPins: string[] = [];
  for (const tenant of snapshot.tenantIds) {
    const pin = pins.get(tenant);
    if (pin && !isTemporaryPin(pin.reason)) continue;
    const from = now.shardFor(tenant).shardId;
    const to = ring.get(tenant);
    if (to === undefined) continue;
    if (from !== to) moves.push({ tenant, from, to });
    else if (pin) staleTemporaryPins.push(tenant);
  }
  return { moves, staleTemporaryPins };
}

/**
 * Drain: every tenant placed on the shard (pinned there or not) goes where the ring
 * without it puts them. Tenants elsewhere do not move: with explicit vnodes, removing a
 * member only remaps that member's keys.
 */
export function planDrain(snapshot: CatalogSnapshot, shardId: string): Plan {
  const now = currentPlacement(snapshot);
  const ring = ringOf(snapshot.shards.filter((s) => s.id !== shardId), ['active']);
  const moves: PlannedMove[] = [];
  for (const tenant of snapshot.tenantIds) {
    const from = now.shardFor(tenant).shardId;
    if (from !== shardId) continue;
    const to = ring.get(tenant);
    if (to === undefined) throw new Error(`no active shard left to drain ${shardId} into`);
    moves.push({ tenant, from, to });
  }
  return { moves, staleTemporaryPins: [] };
}
