import { expect } from 'chai';
import pino from 'pino';
import { ReadThroughCache, type CacheResult, type ReadThroughCacheOptions } from '../../src/cache/read-through-cache.js';
import { cacheKeys } from '../../src/cache/cache-keys.js';
import type { InvalidationEnvelope, InvalidationMessage } from '../../src/cache/invalidation-message.js';
import type { InvalidationChannel, InvalidationHandler, SharedLookup, SharedMiss, SharedTier } from '../../src/cache/shared-tier.js';

const logger = pino({ level: 'silent' });

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** An in-memory stand-in for Redis with the same tombstone / compare-and-set rules. */
class MemoryTier implements SharedTier {
  readonly data = new Map<string, string>();
  failing = false;
  gets = 0;
  fills = 0;
  #token = 0;

  async get(key: string): Promise<SharedLookup> {
    this.gets++;
    if (this.failing) throw new Error('redis down');
    const raw = this.data.get(key);
    if (raw === undefined || raw.startsWith('!')) return { kind: 'miss', snapshot: raw ?? '', at: 0 };
    return { kind: 'hit', json: raw };
  }

  async fill(key: string, json: string, _ttlMs: number, miss: SharedMiss): Promise<boolean> {
    this.fills++;
    if (this.failing) throw new Error('redis down');
    if ((this.data.get(key) ?? '') !== miss.snapshot) return false;
    this.data.set(key, json);
    return true;
  }

  async tombstone(keys: readonly string[]): Promise<void> {
    if (this.failing) throw new Error('redis down');
    const token = `!tomb:${++this.#token}`;
    for (const key of keys) this.data.set(key, token);
  }

  async tombstoneTenant(tenantId: string): Promise<number> {
    const keys = [...this.data.keys()].filter((k) => k.startsWith(cacheKeys.tenantPrefix(tenantId)));
    await this.tombstone(keys);
    return keys.length;
  }
}

/** Pub/sub between fake gateways: synchronous delivery to every connected member. */
class Hub {
  readonly members: FakeBus[] = [];
  publish(envelope: InvalidationEnvelope): void {
    for (const m of this.members) if (m.connected) m.deliver(envelope);
  }
}

class FakeBus implements InvalidationChannel {
  connected = true;
  readonly published: InvalidationMessage[] = [];
  readonly #handlers = new Set<InvalidationHandler>();
  readonly #reconnect = new Set<() => void>();

  constructor(readonly origin: string, private readonly hub: Hub) {
    hub.members.push(this);
  }

  async publish(message: InvalidationMessage): Promise<void> {
    this.published.push(message);
    this.hub.publish({ ...message, origin: this.origin });
  }

  onMessage(handler: InvalidationHandler): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  onReconnect(handler: () => void): () => void {
    this.#reconnect.add(handler);
    return () => this.#reconnect.delete(handler);
  }

  deliver(envelope: InvalidationEnvelope): void {
    for (const h of this.#handlers) h(envelope, envelope.origin === this.origin);
  }

  reconnect(): void {
    this.connected = true;
    for (const h of this.#reconnect) h();
  }
}

function makeCache(overrides: Partial<ReadThroughCacheOptions> = {}): { cache: ReadThroughCache; results: CacheResult[] } {
  const results: CacheResult[] = [];
  const cache = new ReadThroughCache({
    backend: { kind: 'localOnly' },
    logger,
    ttlMs: 60_000,
    localTtlMs: 5_000,
    onResult: (r) => results.push(r),
    ...overrides,
  });
  return { cache, results };
}

describe('ReadThroughCache (local only)', () => {
  const key = cacheKeys.product('acme', 'p1');

  it('makes one load for a burst of misses on one key, and gives every caller its own copy', async () => {
    const { cache, results } = makeCache();
    let loads = 0;
    const gate = deferred<void>();
    const load = async () => {
      loads++;
      await gate.promise;
      return { id: 'p1', price: 10 };
    };
    const reads = Array.from({ length: 50 }, () => cache.getOrLoad(key, load));
    gate.resolve();
    const done = await Promise.all(reads);
    expect(loads).to.equal(1);
    expect(done.every((r) => r.source === 'loaded' && r.value?.price === 10)).to.equal(true);
    expect(done[0]?.value).not.to.equal(done[1]?.value);
    expect(results).to.deep.equal(Array(50).fill('miss'));

    const again = await cache.getOrLoad(key, load);
    expect(again).to.deep.equal({ value: { id: 'p1', price: 10 }, source: 'local' });
    expect(loads).to.equal(1);
    expect(results.at(-1)).to.equal('hit');
  });

  it('returns a value in the same shape whichever tier served it', async () => {
    const { cache } = makeCache();
    const at = new Date('2024-01-02T03:04:05.000Z');
    const first = await cache.getOrLoad(key, async () => ({ at }));
    const second = await cache.getOrLoad(key, async () => ({ at }));
    expect(first.value).to.deep.equal(second.value);
    expect(first.value?.at).to.equal('2024-01-02T03:04:05.000Z');
  });

  it('does not cache "not found" or a failed load', async () => {
    const { cache } = makeCache();
    let loads = 0;
    expect(await cache.getOrLoad(key, async () => { loads++; return undefined; })).to.deep.equal({ value: undefined, source: 'loaded' });
    await cache.getOrLoad(key, async () => { loads++; return undefined; });
    expect(loads).to.equal(2);
    const boom = cache.getOrLoad(key, async () => { throw new Error('db down'); });
    const joined = cache.getOrLoad(key, async () => 'unused');
    for (const p of [boom, joined]) {
      try {
        await p;
        expect.fail('should reject');
      } catch (err) {
        expect((err as Error).message).to.equal('db down');
      }
    }
    expect((await cache.getOrLoad(key, async () => 'ok')).source).to.equal('loaded');
  });

  it('never caches a load that an invalidation overtook', async () => {
    const { cache } = makeCache();
    const slow = deferred<string>();
    const before = cache.getOrLoad(key, () => slow.promise);
    // the write commits and invalidates while the load (which read "old") is still running
    await cache.invalidate([key]);
    // a caller arriving after the write must not join the old load
    const after = cache.getOrLoad(key, async () => 'new');
    slow.resolve('old');
    expect((await before).value).to.equal('old');
    expect((await after).value).to.equal('new');
    expect(await cache.getOrLoad(key, async () => 'loaded-again')).to.deep.equal({ value: 'new', source: 'local' });
  });

  it('drops one tenant, and only that one', async () => {
    const { cache } = makeCache();
    const a = cacheKeys.product('a', '1');
    const ab = cacheKeys.product('ab', '1');
    await cache.getOrLoad(a, async () => 'a');
    await cache.getOrLoad(ab, async () => 'ab');
    await cache.invalidateTenant('a');
    expect((await cache.getOrLoad(a, async () => 'a2')).source).to.equal('loaded');
    expect((await cache.getOrLoad(ab, async () => 'ab2')).source).to.equal('local');
  });

  it('holds the in-process tier within its byte bound and keeps oversized values out of it', async () => {
    const { cache } = makeCache({ maxLocalBytes: 200_000, maxLocalEntryBytes: 20_000 });
    const big = 'x'.repeat(15_000); // ~30 KB as UTF-16: over the one-entry bound
    const small = 'y'.repeat(4_000); // ~8 KB
    let loads = 0;
    const load = (text: string) => async () => {
      loads++;
      return { text };
    };
    const bigKey = cacheKeys.product('acme', 'big');
    expect((await cache.getOrLoad(bigKey, load(big))).source).to.equal('loaded');
    expect((await cache.getOrLoad(bigKey, load(big))).source, 'an oversized value is loaded again, never kept').to.equal('loaded');
    expect(cache.localSize).to.equal(0);
    // a flood of distinct keys: the tier keeps its most recent entries within the bound
    for (let i = 0; i < 200; i++) await cache.getOrLoad(cacheKeys.product('acme', `p${i}`), load(small));
    expect(cache.localBytes).to.be.at.most(200_000);
    expect(cache.localSize).to.be.within(20, 24);
    expect((await cache.getOrLoad(cacheKeys.product('acme', 'p199'), load(small))).source).to.equal('local');
    expect((await cache.getOrLoad(cacheKeys.product('acme', 'p0'), load(small))).source, 'the oldest were evicted').to.equal('loaded');
    expect(loads).to.equal(2 + 200 + 1);
  });

  it('expires entries after their TTL', async () => {
    const { cache } = makeCache({ ttlMs: 20 });
    await cache.getOrLoad(key, async () => 1);
    expect((await cache.getOrLoad(key, async () => 2)).source).to.equal('local');
    await new Promise((r) => setTimeout(r, 30));
    expect(await cache.getOrLoad(key, async () => 2)).to.deep.equal({ value: 2, source: 'loaded' });
  });
});

describe('ReadThroughCache (shared, with in-memory fakes)', () => {
  const key = cacheKeys.product('acme', 'p1');

  function gateway(hub: Hub, tier: MemoryTier, origin: string) {
    const bus = new FakeBus(origin, hub);
    return { bus, ...makeCache({ backend: { kind: 'shared', tier, bus } }) };
  }

  it('serves from Redis, then from the local tier', async () => {
    const tier = new MemoryTier();
    const a = gateway(new Hub(), tier, 'a');
    expect((await a.cache.getOrLoad(key, async () => 'v1')).source).to.equal('loaded');
    expect(tier.data.get(key)).to.equal('"v1"');
    const b = gateway(new Hub(), tier, 'b');
    expect(await b.cache.getOrLoad(key, async () => 'x')).to.deep.equal({ value: 'v1', source: 'redis' });
    expect(await b.cache.getOrLoad(key, async () => 'x')).to.deep.equal({ value: 'v1', source: 'local' });
    expect(b.results).to.deep.equal(['hit', 'hit']);
  });

  it('bypasses and clears the local tier while the bus is disconnected, and flushes on reconnect', async () => {
    const tier = new MemoryTier();
    const a = gateway(new Hub(), tier, 'a');
    await a.cache.getOrLoad(key, async () => 'v1');
    expect(a.cache.localSize).to.equal(1);
    a.bus.connected = false;
    tier.gets = 0;
    expect((await a.cache.getOrLoad(key, async () => 'x')).source).to.equal('redis');
    expect((await a.cache.getOrLoad(key, async () => 'x')).source).to.equal('redis');
    expect(tier.gets).to.equal(2);
    expect(a.cache.localSize).to.equal(0);

    // a load that began before the reconnect may have missed an invalidation: not cached locally
    const slow = deferred<string>();
    tier.data.delete(key);
    const pending = a.cache.getOrLoad(key, () => slow.promise);
    a.bus.reconnect();
    slow.resolve('v2');
    await pending;
    expect(a.cache.localSize).to.equal(0);
    expect(tier.data.get(key)).to.equal(undefined);
    await a.cache.getOrLoad(key, async () => 'v3');
    expect((await a.cache.getOrLoad(key, async () => 'x')).source).to.equal('local');
  });

  it('treats a Redis error as a miss and still answers', async () => {
    const tier = new MemoryTier();
    const a = gateway(new Hub(), tier, 'a');
    tier.failing = true;
    expect(await a.cache.getOrLoad(key, async () => 'v1')).to.deep.equal({ value: 'v1', source: 'loaded' });
    expect(a.results).to.deep.equal(['error']);
    // nothing cached after an error: the bus is likely failing too, just not noticed yet
    expect(tier.fills).to.equal(0);
    expect(a.cache.localSize).to.equal(0);
    await a.cache.invalidate([key]);
    expect(a.bus.published).to.deep.equal([{ kind: 'keys', keys: [key] }]);
  });

  it('drops another gateway\'s invalidated keys and ignores its own echo', async () => {
    const hub = new Hub();
    const tier = new MemoryTier();
    const a = gateway(hub, tier, 'a');
    const b = gateway(hub, tier, 'b');
    await a.cache.getOrLoad(key, async () => 'v1');
    await b.cache.getOrLoad(key, async () => 'x');
    await b.cache.invalidate([key]);
    expect(a.cache.localSize).to.equal(0);
    expect(tier.data.get(key)).to.match(/^!tomb:/);
    expect(await a.cache.getOrLoad(key, async () => 'v2')).to.deep.equal({ value: 'v2', source: 'loaded' });
    expect(await b.cache.getOrLoad(key, async () => 'x')).to.deep.equal({ value: 'v2', source: 'redis' });
  });

  it('does not let a load that started before another gateway\'s write fill Redis', async () => {
    const tier = new MemoryTier();
    // separate hubs: B's broadcast has not reached A yet when A's load finishes
    const a = gateway(new Hub(), tier, 'a');
    const b = gateway(new Hub(), tier, 'b');
    const slow = deferred<string>();
    const stale = a.cache.getOrLoad(key, () => slow.promise);
    await new Promise((r) => setImmediate(r));
    await b.cache.invalidate([key]);
    slow.resolve('old');
    expect((await stale).value).to.equal('old');
    // the compare-and-set saw the tombstone: Redis never holds "old"
    expect(tier.data.get(key)).to.match(/^!tomb:/);
    // A's local tier holds it only until the broadcast arrives
    a.bus.deliver({ kind: 'keys', keys: [key], origin: 'b' });
    expect(a.cache.localSize).to.equal(0);
    expect(await a.cache.getOrLoad(key, async () => 'new')).to.deep.equal({ value: 'new', source: 'loaded' });
  });

  it('does not cache a load that this gateway\'s own invalidation overtook, in either tier', async () => {
    const hub = new Hub();
    const tier = new MemoryTier();
    const a = gateway(hub, tier, 'a');
    const slow = deferred<string>();
    const stale = a.cache.getOrLoad(key, () => slow.promise);
    await new Promise((r) => setImmediate(r));
    await a.cache.invalidate([key]);
    slow.resolve('old');
    await stale;
    expect(a.cache.localSize).to.equal(0);
    expect(tier.data.get(key)).to.match(/^!tomb:/);
  });

  it('stops using the local tier once closed (it no longer hears invalidations)', async () => {
    const tier = new MemoryTier();
    const a = gateway(new Hub(), tier, 'a');
    await a.cache.getOrLoad(key, async () => 'v1');
    a.cache.close();
    expect(a.cache.localSize).to.equal(0);
    expect((await a.cache.getOrLoad(key, async () => 'x')).source).to.equal('redis');
    expect(a.cache.localSize).to.equal(0);
  });
});
