/**
 * The transfers scenario (issue 16, item 6): partner tenants on different shards, 20
 * connections each posting transfers of one unit through `POST /v1/transfers`, for a
 * while with the saga and a while with two-phase commit. Reports committed transfers a
 * second per protocol and their latency; afterwards every transaction must have ended and
 * the stock summed over both sides of each pair must be what it was (checked, not timed).
 * Through the tenant and admin APIs only.
 */
import { expectStatus, request } from './http.js';

export interface TransfersResult {
  readonly saga_per_s: number;
  readonly twopc_per_s: number;
  /** p99 latency (ms) of every committed transfer of both protocols */
  readonly p99_ms: number;
  readonly saga_p50_ms: number;
  readonly saga_p99_ms: number;
  readonly twopc_p50_ms: number;
  readonly twopc_p99_ms: number;
  readonly pairs: number;
  readonly connections: number;
  readonly seconds_per_protocol: number;
  /** answers other than 201 (a 409 from two transfers racing for the last unit cannot happen here: stock never runs out) */
  readonly not_committed: number;
  /** the stock of every pair summed over both sides, before and after: equal */
  readonly stock_conserved: boolean;
}

export interface TransfersEnv {
  readonly tenantUrl: string;
  readonly adminUrl: string;
  readonly adminToken: string;
  readonly say: (text: string) => void;
}

interface Pair {
  readonly supplierKey: string;
  readonly buyerKey: string;
  readonly supplier: string;
  readonly from: string;
  readonly into: string;
}

const STOCK = 1_000_000;

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! * 10) / 10;
}

async function tenant(env: TransfersEnv, admin: Record<string, string>, name: string): Promise<{ id: string; key: string; shard: string }> {
  const res = await expectStatus(`create ${name}`, 201, request('POST', `${env.adminUrl}/admin/tenants`, admin, { name }));
  const body = res.body as { id: string; apiKey: string; shard: string };
  return { id: body.id, key: body.apiKey, shard: body.shard };
}

async function product(env: TransfersEnv, key: string, stock: number): Promise<string> {
  const res = await expectStatus('a product', 201, request('POST', `${env.tenantUrl}/v1/products`, { authorization: `Bearer ${key}` }, { name: 'traded', price: 1, stock }));
  return (res.body as { id: string }).id;
}

async function stockOf(env: TransfersEnv, key: string, id: string): Promise<number> {
  const res = await expectStatus('a product read', 200, request('GET', `${env.tenantUrl}/v1/products/${id}`, { authorization: `Bearer ${key}`, 'x-consistency': 'strong' }));
  const p = res.body as { stock: number; reserved: number };
  return p.stock + p.reserved;
}

export async function transfersScenario(env: TransfersEnv, settings: { readonly pairs: number; readonly seconds: number; readonly connections: number }): Promise<TransfersResult> {
  const admin = { authorization: `Bearer ${env.adminToken}` };
  const pairs: Pair[] = [];
  for (let attempt = 0; pairs.length < settings.pairs && attempt < settings.pairs * 10; attempt++) {
    const s = await tenant(env, admin, `bench transfers supplier ${attempt}`);
    let b = await tenant(env, admin, `bench transfers buyer ${attempt}`);
    // cross-shard pairs only: that is what both protocols exist for
    for (let i = 0; b.shard === s.shard && i < 10; i++) b = await tenant(env, admin, `bench transfers buyer ${attempt}.${i}`);
    if (b.shard === s.shard) continue;
    await expectStatus('a partnership', 201, request('POST', `${env.adminUrl}/admin/partnerships`, admin, { supplier: s.id, buyer: b.id }));
    pairs.push({ supplierKey: s.key, buyerKey: b.key, supplier: s.id, from: await product(env, s.key, STOCK), into: await product(env, b.key, 0) });
  }
  env.say(`transfers: ${pairs.length} cross-shard pairs, ${settings.connections} connections, ${settings.seconds} s per protocol`);

  let notCommitted = 0;
  const run = async (protocol: 'saga' | '2pc'): Promise<{ perS: number; latencies: number[] }> => {
    const latencies: number[] = [];
    const end = performance.now() + settings.seconds * 1000;
    let n = 0;
    const began = performance.now();
    await Promise.all(
      Array.from({ length: settings.connections }, async () => {
        while (performance.now() < end) {
          const pair = pairs[n++ % pairs.length]!;
          const t0 = performance.now();
          const res = await request('POST', `${env.tenantUrl}/v1/transfers`, { authorization: `Bearer ${pair.buyerKey}` }, {
            supplier: pair.supplier, protocol, items: [{ productId: pair.from, quantity: 1, intoProductId: pair.into }],
          });
          if (res.status === 201) latencies.push(performance.now() - t0);
          else notCommitted += 1;
        }
      }),
    );
    return { perS: Math.round((latencies.length / ((performance.now() - began) / 1000)) * 10) / 10, latencies };
  };
  const saga = await run('saga');
  const twopc = await run('2pc');

  // every transaction ended (a 202 would be finished by recovery within its interval)
  const deadline = Date.now() + 30_000;
  for (;;) {
    const open = await expectStatus('pending transactions', 200, request('GET', `${env.adminUrl}/admin/transactions?state=pending&limit=1`, admin));
    if ((open.body as { items: unknown[] }).items.length === 0) break;
    if (Date.now() > deadline) throw new Error('transfers: transactions still pending 30 s after the load');
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  let conserved = true;
  for (const p of pairs) {
    const total = (await stockOf(env, p.supplierKey, p.from)) + (await stockOf(env, p.buyerKey, p.into));
    if (total !== STOCK) conserved = false;
  }
  return {
    saga_per_s: saga.perS,
    twopc_per_s: twopc.perS,
    p99_ms: percentile([...saga.latencies, ...twopc.latencies], 0.99),
    saga_p50_ms: percentile(saga.latencies, 0.5),
    saga_p99_ms: percentile(saga.latencies, 0.99),
    twopc_p50_ms: percentile(twopc.latencies, 0.5),
    twopc_p99_ms: percentile(twopc.latencies, 0.99),
    pairs: pairs.length,
    connections: settings.connections,
    seconds_per_protocol: settings.seconds,
    not_committed: notCommitted,
    stock_conserved: conserved,
  };
}
