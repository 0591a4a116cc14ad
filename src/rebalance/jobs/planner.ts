import type { PlanInput, PlannedMove } from '../../catalog/job-rows.js';
import { PlacementTable } from '../../placement/placement-table.js';
import { ringOf } from '../../placement/ring.js';

export interface Plan {
  readonly moves: readonly PlannedMove[];
  /** temporary pins a previous job left where the new ring already places the tenant: drop them */
  readonly staleTemporaryPins: readonly string[];
}

/** Pins a rebalance or drain sets to hold tenants in place while the ring changes; every other pin is an operator's. */
function isTemporaryPin(reason: string): boolean {
  return reason.startsWith('rebalance:') || reason.startsWith('drain:');
}

/** Where each tenant is now: its pin, else the ring of the active shards. */
export function currentPlacement(input: PlanInput): PlacementTable {
  return PlacementTable.fromCatalog(input.shards, input.pins);
}

/**
 * Rebalance: the ring of every active and standby shard against where tenants are now.
 * Tenants an operator pinned stay put; temporary pins (of an earlier, unfinished job)
 * count as no pin.
 */
export function planRebalance(input: PlanInput): Plan {
  const now = currentPlacement(input);
  const ring = ringOf(input.shards, ['active', 'standby']);
  const pins = new Map(input.pins.map((p) => [p.tenantId, p]));
  const moves: PlannedMove[] = [];
  const staleTemporaryPins: string[] = [];
  for (const tenant of input.tenantIds) {
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
export function planDrain(input: PlanInput, shardId: string): Plan {
  const now = currentPlacement(input);
  const ring = ringOf(input.shards.filter((s) => s.id !== shardId), ['active']);
  const moves: PlannedMove[] = [];
  for (const tenant of input.tenantIds) {
    const from = now.shardFor(tenant).shardId;
    if (from !== shardId) continue;
    const to = ring.get(tenant);
    if (to === undefined) throw new Error(`no active shard left to drain ${shardId} into`);
    moves.push({ tenant, from, to });
  }
  return { moves, staleTemporaryPins: [] };
}
