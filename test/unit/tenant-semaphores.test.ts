import { expect } from 'chai';
import { TenantSemaphores, type Acquired } from '../../src/limits/tenant-semaphores.js';

function granted(a: Acquired): () => void {
  if (!a.ok) throw new Error(`expected a slot, got ${a.reason}`);
  return a.release;
}

describe('TenantSemaphores', () => {
  it('gives up to maxConcurrent slots per tenant, independently per tenant', () => {
    const s = new TenantSemaphores({ maxConcurrent: 2, maxQueued: 0, queueTimeoutMs: 10 });
    const a1 = s.tryAcquire('a');
    const a2 = s.tryAcquire('a');
    expect(a1).to.be.a('function');
    expect(a2).to.be.a('function');
    expect(s.tryAcquire('a')).to.equal(undefined);
    expect(s.tryAcquire('b')).to.be.a('function');
    expect(s.inFlight('a')).to.deep.equal({ active: 2, waiting: 0 });
  });

  it('hands a released slot to the first waiter, in arrival order', async () => {
    const s = new TenantSemaphores({ maxConcurrent: 1, maxQueued: 5, queueTimeoutMs: 1000 });
    const first = s.tryAcquire('a')!;
    const order: number[] = [];
    const waits = [1, 2, 3].map((n) => s.acquire('a').then((a) => (order.push(n), a)));
    expect(s.inFlight('a')).to.deep.equal({ active: 1, waiting: 3 });
    first();
    const r1 = granted(await waits[0]!);
    // nobody can overtake a waiter: the slot went to it, not back to the pool
    expect(s.tryAcquire('a')).to.equal(undefined);
    r1();
    granted(await waits[1]!)();
    granted(await waits[2]!)();
    expect(order).to.deep.equal([1, 2, 3]);
    expect(s.size).to.equal(0);
  });

  it('refuses at once when the queue is full, and after queueTimeoutMs when no slot frees', async () => {
    const s = new TenantSemaphores({ maxConcurrent: 1, maxQueued: 1, queueTimeoutMs: 30 });
    const held = s.tryAcquire('a')!;
    const waiting = s.acquire('a');
    expect(await s.acquire('a')).to.deep.equal({ ok: false, reason: 'queue_full' });
    const started = performance.now();
    expect(await waiting).to.deep.equal({ ok: false, reason: 'timeout' });
    expect(performance.now() - started).to.be.within(20, 500);
    expect(s.inFlight('a')).to.deep.equal({ active: 1, waiting: 0 });
    held();
    expect(s.size).to.equal(0);
  });

  it('lets an aborted waiter leave the queue', async () => {
    const s = new TenantSemaphores({ maxConcurrent: 1, maxQueued: 5, queueTimeoutMs: 10_000 });
    const held = s.tryAcquire('a')!;
    const controller = new AbortController();
    const waiting = s.acquire('a', controller.signal);
    const next = s.acquire('a');
    controller.abort();
    expect(await waiting).to.deep.equal({ ok: false, reason: 'aborted' });
    held();
    granted(await next)();
    expect(s.size).to.equal(0);
    const gone = new AbortController();
    gone.abort();
    const held2 = s.tryAcquire('a')!;
    expect(await s.acquire('a', gone.signal)).to.deep.equal({ ok: false, reason: 'aborted' });
    held2();
  });

  it('ignores a second release of the same slot', () => {
    const s = new TenantSemaphores({ maxConcurrent: 2, maxQueued: 0, queueTimeoutMs: 10 });
    const r = s.tryAcquire('a')!;
    s.tryAcquire('a');
    r();
    r();
    expect(s.inFlight('a').active).to.equal(1);
  });

  it('leaves no entry behind for 1000 tenants that came and went', async () => {
    const s = new TenantSemaphores({ maxConcurrent: 1, maxQueued: 2, queueTimeoutMs: 5 });
    const work: Promise<void>[] = [];
    for (let i = 0; i < 1000; i++) {
      const tenant = `t${i % 100}`;
      work.push(
        s.acquire(tenant).then(async (a) => {
          if (!a.ok) return;
          await new Promise((r) => setTimeout(r, i % 3));
          a.release();
        }),
      );
    }
    await Promise.all(work);
    expect(s.size).to.equal(0);
  });
});
