/**
 * Routing micro-benchmark: the tenant → shard decision (`PlacementTable.shardFor`: pin
 * lookup, else the consistent-hash ring) with many tenants and pins, in ns per decision,
 * and the heap the placement state holds. Run in its own process with --expose-gc (so GC
 * can be forced between phases); prints one JSON line:
 *   node --expose-gc --import tsx bench/routing.ts <tenants> <pins>
 */
import { randomBytes } from 'node:crypto';
import { Ring } from '../src/placement/ring.js';
import { PlacementTable } from '../src/placement/placement-table.js';

export interface RoutingResult {
  readonly ns_per_op: number;
  readonly tenants: number;
  readonly pins: number;
  readonly heap_mb: number;
  /** same decisions over a small repeating set (the ring's LRU cache answers): the common case */
  readonly ns_per_op_hot: number;
}

const SHARDS = ['shard-1', 'shard-2', 'shard-3', 'shard-4'];

function collect(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with node --expose-gc');
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Calls shardFor for ids[from..from+count) (wrapping); a checksum keeps the work from being optimised away. */
function decide(table: PlacementTable, ids: readonly string[], count: number): { ns: number; checksum: number } {
  let checksum = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < count; i++) checksum += table.shardFor(ids[i % ids.length]!).shardId.length;
  return { ns: Number(process.hrtime.bigint() - started), checksum };
}

export function measureRouting(tenants: number, pins: number): RoutingResult {
  // tenant ids as long as the UUIDs the admin API mints, but flat strings: randomUUID
  // returns cons strings that the first hash flattens, which frees memory mid-measurement
  const newIds = (n: number) => Array.from({ length: n }, () => randomBytes(18).toString('hex'));
  const ids = newIds(tenants);
  // warm-up ids of their own, so none of the measured ids sits in the ring's LRU cache
  const warmIds = newIds(Math.min(tenants, 200_000));
  const before = collect();
  const pinMap = new Map<string, string>();
  // every (tenants/pins)-th tenant pinned, spread over the shards
  const stride = Math.max(1, Math.floor(tenants / pins));
  for (let i = 0; i < tenants && pinMap.size < pins; i += stride) pinMap.set(ids[i]!, SHARDS[i % SHARDS.length]!);
  const table = new PlacementTable(new Ring(SHARDS.map((shardId) => ({ shardId, weight: 100 }))), pinMap, 1n);

  // warm-up: JIT and the ring's LRU cache reach steady state
  decide(table, warmIds, warmIds.length);
  const cold = decide(table, ids, tenants);
  const hotIds = ids.slice(0, 1000);
  decide(table, hotIds, 100_000);
  const hot = decide(table, hotIds, 1_000_000);
  const heapMb = (collect() - before) / (1024 * 1024);
  // ids and table stay referenced past the heap reading, so only the placement state's growth is counted
  if (cold.checksum === 0 || hot.checksum === 0 || ids.length + warmIds.length === 0 || table.pins.size === 0) throw new Error('no decisions were made');
  return { ns_per_op: cold.ns / tenants, tenants, pins: pinMap.size, heap_mb: heapMb, ns_per_op_hot: hot.ns / 1_000_000 };
}

if (require.main === module) {
  const [tenants, pins] = process.argv.slice(2).map(Number);
  if (!tenants || !pins) throw new Error('usage: node --expose-gc --import tsx bench/routing.ts <tenants> <pins>');
  console.log(JSON.stringify(measureRouting(tenants, pins)));
}
