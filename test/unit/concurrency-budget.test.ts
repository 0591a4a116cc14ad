import { expect } from 'chai';
import { ConcurrencyBudget, type SlotGrant } from '../../src/limits/concurrency-budget.js';
import { createLogger } from '../../src/telemetry/logger.js';

/** The budget of a gateway without Redis (one process is the whole fleet): the decisions the per-pod fallback makes too. */
function budget(options: { tenant: number; shard: number; maxQueued?: number; queueTimeoutMs?: number; podTenantCeiling?: number }): ConcurrencyBudget {
  return new ConcurrencyBudget({
    slots: undefined,
    limits: { tenant: options.tenant, shard: options.shard },
    expectedPods: 4,
    ...(options.podTenantCeiling === undefined ? {} : { podTenantCeiling: options.podTenantCeiling }),
    leaseTtlMs: 3000,
    maxQueued: options.maxQueued ?? 0,
    queueTimeoutMs: options.queueTimeoutMs ?? 1000,
    logger: createLogger('silent'),
  });
}

function granted(g: SlotGrant): () => void {
  if (!g.ok) throw new Error(`expected a slot, got ${g.reason}`);
  return g.release;
}

describe('ConcurrencyBudget without Redis', () => {
  it('caps each tenant and each shard, whole (no Redis: this process is the fleet), and says which cap refused', async () => {
    const b = budget({ tenant: 2, shard: 3 });
    expect(b.shared).to.equal(false);
    const a1 = granted(await b.acquire('a', 's1'));
    granted(await b.acquire('a', 's1'));
    expect(await b.acquire('a', 's1')).to.deep.equal({ ok: false, reason: 'tenant' });
    const c1 = granted(await b.acquire('c', 's1'));
    expect(await b.acquire('d', 's1')).to.deep.equal({ ok: false, reason: 'shard' });
    granted(await b.acquire('d', 's2'));
    expect(Object.fromEntries(b.slotsInUse())).to.deep.equal({ s1: 3, s2: 1 });
    a1();
    a1(); // twice gives back once
    c1();
    expect(Object.fromEntries(b.slotsInUse())).to.deep.equal({ s1: 1, s2: 1 });
    expect(b.inFlight('a')).to.deep.equal({ active: 1, waiting: 0 });
  });

  it("hands a released slot to the tenant's first waiter, in arrival order, and nobody overtakes it", async () => {
    const b = budget({ tenant: 1, shard: 10, maxQueued: 5 });
    const first = granted(await b.acquire('a', 's1'));
    const order: number[] = [];
    const waits = [1, 2, 3].map((n) => b.acquire('a', 's1').then((g) => (order.push(n), g)));
    await new Promise((r) => setImmediate(r));
    expect(b.inFlight('a')).to.deep.equal({ active: 1, waiting: 3 });
    first();
    const r1 = granted(await waits[0]!);
    expect(b.inFlight('a')).to.deep.equal({ active: 1, waiting: 2 });
    r1();
    granted(await waits[1]!)();
    granted(await waits[2]!)();
    expect(order).to.deep.equal([1, 2, 3]);
    expect(b.inFlight('a')).to.deep.equal({ active: 0, waiting: 0 });
    expect(b.slotsInUse().size).to.equal(0);
  });

  it('refuses at once when the queue is full, and with the refusing cap when no slot frees in time', async () => {
    const b = budget({ tenant: 5, shard: 1, maxQueued: 1, queueTimeoutMs: 40 });
    const held = granted(await b.acquire('a', 's1'));
    const waiting = b.acquire('b', 's1');
    await new Promise((r) => setImmediate(r));
    expect(await b.acquire('b', 's1')).to.deep.equal({ ok: false, reason: 'shard' });
    expect(await waiting).to.deep.equal({ ok: false, reason: 'shard' });
    held();
  });

  it("gives a slot another tenant frees on the same shard to a waiter, and lets a waiter leave when its client goes", async () => {
    const b = budget({ tenant: 5, shard: 1, maxQueued: 2, queueTimeoutMs: 5000 });
    const held = granted(await b.acquire('a', 's1'));
    const controller = new AbortController();
    const leaving = b.acquire('c', 's1', controller.signal);
    const staying = b.acquire('b', 's1');
    await new Promise((r) => setImmediate(r));
    controller.abort();
    expect(await leaving).to.deep.equal({ ok: false, reason: 'aborted' });
    held();
    granted(await staying)();
    expect(b.slotsInUse().size).to.equal(0);
  });

  it("never gives one tenant more than the pod's ceiling, whatever the fleet cap allows", async () => {
    const b = budget({ tenant: 24, shard: 100, podTenantCeiling: 2 });
    granted(await b.acquire('a', 's1'));
    granted(await b.acquire('a', 's2'));
    expect(await b.acquire('a', 's1')).to.deep.equal({ ok: false, reason: 'tenant' });
    granted(await b.acquire('b', 's1'));
  });
});
