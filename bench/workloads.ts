import type { Seed, SeedTenant } from './seed.js';
import type { NextRequest, Workload } from './load.js';
import { productBody } from './http.js';

/** One product of one tenant, as each kind of contender is asked for it. */
interface Target {
  readonly tenant: SeedTenant;
  readonly productId: string;
}

/** How a contender names the tenant: shardgate by API key, the baselines by a bare header. */
export type Addressing = 'api-key' | 'tenant-header';

function headersFor(tenant: SeedTenant, addressing: Addressing): Record<string, string> {
  return addressing === 'api-key' ? { authorization: `Bearer ${tenant.apiKey}` } : { 'x-tenant-id': tenant.id };
}

/** Cycles through prebuilt requests, so the load generator does the same little work for every contender. */
function cycle(requests: readonly NextRequest[]): Workload {
  if (requests.length === 0) throw new Error('a workload needs at least one request');
  let i = 0;
  return () => requests[i++ % requests.length]!;
}

// a few distinct bodies, so writes are not all alike
const BODIES = Array.from({ length: 64 }, (_, i) => JSON.stringify(productBody(i)));

export function pointReads(targets: readonly Target[], addressing: Addressing, extraHeaders: (t: SeedTenant) => Record<string, string> = () => ({})): Workload {
  return cycle(targets.map((t) => ({ method: 'GET', path: `/v1/products/${t.productId}`, headers: { ...headersFor(t.tenant, addressing), ...extraHeaders(t.tenant) } })));
}

export function creates(tenants: readonly SeedTenant[], addressing: Addressing): Workload {
  const requests = BODIES.map((body, i) => ({
    method: 'POST' as const,
    path: '/v1/products',
    headers: { ...headersFor(tenants[i % tenants.length]!, addressing), 'content-type': 'application/json' },
    body,
  }));
  return cycle(requests);
}

/** PATCH of the targets' stock, in turn: each a transaction (row lock, update, audit row, commit) and a token. */
export function updates(targets: readonly Target[], addressing: Addressing): Workload {
  return cycle(
    targets.map((t, i) => ({
      method: 'PATCH' as const,
      path: `/v1/products/${t.productId}`,
      headers: { ...headersFor(t.tenant, addressing), 'content-type': 'application/json' },
      body: JSON.stringify({ stock: 100 + (i % 50) }),
    })),
  );
}

/** 90% point reads, 10% creates, tenants and products drawn pseudo-randomly (fixed seed) from all of them. */
export function mix(seed: Seed, size: number): Workload {
  let state = 0x9e3779b9;
  const rand = (n: number) => {
    // xorshift32: cheap and repeatable, so every round draws the same sequence
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % n;
  };
  const requests: NextRequest[] = [];
  for (let i = 0; i < size; i++) {
    const tenant = seed.tenants[rand(seed.tenants.length)]!;
    if (i % 10 === 9) {
      requests.push({ method: 'POST', path: '/v1/products', headers: { ...headersFor(tenant, 'api-key'), 'content-type': 'application/json' }, body: BODIES[i % BODIES.length]! });
    } else {
      const productId = tenant.productIds[rand(tenant.productIds.length)]!;
      requests.push({ method: 'GET', path: `/v1/products/${productId}`, headers: headersFor(tenant, 'api-key') });
    }
  }
  return cycle(requests);
}

export interface ReadSet {
  /** the shard whose replica every read contender reads from */
  readonly shardId: string;
  readonly tenants: readonly SeedTenant[];
  /** the measured point reads: the same (tenant, product) pairs for every contender */
  readonly targets: readonly Target[];
  /** a small hot set for cache hits */
  readonly hot: readonly Target[];
}

/** Tenants of the best-populated shard (at most 10), up to 100 products each. */
export function readSet(seed: Seed): ReadSet {
  const byShard = new Map<string, SeedTenant[]>();
  for (const t of seed.tenants) byShard.set(t.shard, [...(byShard.get(t.shard) ?? []), t]);
  const [shardId, all] = [...byShard.entries()].sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]))[0]!;
  const tenants = all.slice(0, 10);
  // interleaved (product k of every tenant, then k+1): consecutive requests switch tenants
  const targets: Target[] = [];
  for (let k = 0; k < 100; k++) for (const tenant of tenants) if (k < tenant.productIds.length) targets.push({ tenant, productId: tenant.productIds[k]! });
  const hot = targets.slice(0, Math.min(targets.length, 10));
  return { shardId, tenants, targets, hot };
}
