import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { trace } from '@opentelemetry/api';
import type { Redis } from 'ioredis';
import { spanExporter } from '../support/telemetry.js';
import { RedisServer, freePort } from '../support/redis-server.js';

const COMMAND_TIMEOUT_MS = 200;
/** a generous bound on what one cache call may add while Redis is dead or hung, not a speed claim */
const MAX_CALL_MS = 1000;
import { cacheKeys } from '../../src/cache/cache-keys.js';
import { closeRedisClient, createRedisClient } from '../../src/cache/redis-client.js';
import { InvalidationBus } from '../../src/cache/invalidation-bus.js';
import { RedisTier } from '../../src/cache/redis-tier.js';
import { ReadThroughCache, type CacheResult } from '../../src/cache/read-through-cache.js';
import type { InvalidationEnvelope } from '../../src/cache/invalidation-message.js';

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

interface LogLine {
  msg: string;
  redis?: string;
}

/** One "gateway process": its own connections, bus, tier and cache. */
class TestGateway {
  readonly results: CacheResult[] = [];
  readonly logs: LogLine[] = [];
  readonly redis: Redis;
  readonly bus: InvalidationBus;
  readonly tier: RedisTier;
  readonly cache: ReadThroughCache;
  reconnects = 0;

  constructor(url: string, readonly name: string) {
    const logger = pino({ level: 'info' }, { write: (line: string) => void this.logs.push(JSON.parse(line) as LogLine) });
    this.redis = createRedisClient(url, { commandTimeoutMs: COMMAND_TIMEOUT_MS, connectTimeoutMs: 500, name, logger, maxReconnectDelayMs: 200 });
    this.bus = new InvalidationBus(this.redis, { logger, name: `${name}:sub`, heartbeatMs: 200, heartbeatTimeoutMs: 500 });
    this.tier = new RedisTier(this.redis, { logger, tombstoneTtlMs: 30_000 });
    this.cache = new ReadThroughCache({
      backend: { kind: 'shared', tier: this.tier, bus: this.bus },
      logger,
      ttlMs: 60_000,
      localTtlMs: 5_000,
      onResult: (r) => this.results.push(r),
    });
    this.bus.onReconnect(() => this.reconnects++);
    this.bus.start();
  }

  get ready(): boolean {
    return this.bus.connected && this.redis.status === 'ready';
  }

  /** Resolves when this gateway has received (and applied) a broadcast matching `match`. */
  received(match: (m: InvalidationEnvelope) => boolean): Promise<void> {
    const done = deferred();
    const off = this.bus.onMessage((m) => {
      if (!match(m)) return;
      off();
      done.resolve();
    });
    return done.promise;
  }

  close(): void {
    this.cache.close();
    this.bus.close();
    this.tier.close();
    closeRedisClient(this.redis);
  }
}

/** A stand-in for a table: the loader reads it, a "write" changes it then invalidates after commit. */
class FakeTable {
  readonly rows = new Map<string, { id: string; version: number }>();
  loads = 0;

  loader(key: string, delayMs = 0): () => Promise<{ id: string; version: number } | undefined> {
    return async () => {
      this.loads++;
      const row = this.rows.get(key);
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      return row === undefined ? undefined : { ...row };
    };
  }

  write(key: string, version: number): void {
    this.rows.set(key, { id: key, version });
  }
}

function newKey(): { tenant: string; key: string } {
  const tenant = `tenant-${randomUUID()}`;
  return { tenant, key: cacheKeys.product(tenant, randomUUID()) };
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - started };
}

describe('cache: read-through over a real Redis, two gateways', function () {
  let server: RedisServer;
  let a: TestGateway;
  let b: TestGateway;
  const table = new FakeTable();

  before(async () => {
    server = await RedisServer.start();
    a = new TestGateway(server.url, 'gw-a');
    b = new TestGateway(server.url, 'gw-b');
    await waitFor('both gateways subscribed', () => a.ready && b.ready);
  });

  after(async () => {
    a?.close();
    b?.close();
    await server?.kill();
  });

  it('makes one load for 50 concurrent misses on a cold key, then serves hits from both tiers', async () => {
    const { key } = newKey();
    table.write(key, 1);
    const loadsBefore = table.loads;
    const resultsBefore = a.results.length;
    const reads = await Promise.all(Array.from({ length: 50 }, () => a.cache.getOrLoad(key, table.loader(key, 20))));
    expect(table.loads - loadsBefore).to.equal(1);
    expect(reads.every((r) => r.source === 'loaded' && r.value?.version === 1)).to.equal(true);
    expect(a.results.slice(resultsBefore)).to.deep.equal(Array(50).fill('miss'));
    expect(await a.redis.get(key)).to.equal(JSON.stringify({ id: key, version: 1 }));

    expect((await a.cache.getOrLoad(key, table.loader(key))).source).to.equal('local');
    expect((await b.cache.getOrLoad(key, table.loader(key))).source).to.equal('redis');
    expect((await b.cache.getOrLoad(key, table.loader(key))).source).to.equal('local');
    expect(table.loads - loadsBefore).to.equal(1);
    expect(await a.redis.pttl(key)).to.be.within(1, 60_000);
  });

  it('after B writes and invalidates, A never returns the old value', async () => {
    const { key } = newKey();
    for (let version = 1; version <= 20; version++) {
      table.write(key, version);
      if (version > 1) {
        const heard = a.received((m) => m.kind === 'keys' && m.keys.includes(key));
        await b.cache.invalidate([key]);
        await heard;
      }
      // A cached the previous version in both tiers; it must now see this one
      for (let i = 0; i < 3; i++) expect((await a.cache.getOrLoad(key, table.loader(key))).value?.version).to.equal(version);
      expect((await b.cache.getOrLoad(key, table.loader(key))).value?.version).to.equal(version);
    }
  });

  it('an invalidation racing a slow load does not resurrect the stale value', async () => {
    const { key } = newKey();
    table.write(key, 1);
    const gate = deferred();
    const readV1 = deferred();
    // A's load reads version 1, then stalls until after the write has been invalidated everywhere
    const slow = a.cache.getOrLoad(key, async () => {
      const row = { ...table.rows.get(key)! };
      readV1.resolve();
      await gate.promise;
      return row;
    });
    await readV1.promise;
    table.write(key, 2);
    const heard = a.received((m) => m.kind === 'keys' && m.keys.includes(key));
    await b.cache.invalidate([key]);
    await heard;
    gate.resolve();
    expect((await slow).value?.version).to.equal(1); // that request overlapped the write
    expect(await a.redis.get(key)).to.match(/^!tomb:/);
    expect((await a.cache.getOrLoad(key, table.loader(key))).value?.version).to.equal(2);
    expect((await b.cache.getOrLoad(key, table.loader(key))).value?.version).to.equal(2);
  });

  it('refuses a fill whose read predates a tombstone, even before any broadcast arrives', async () => {
    const { key } = newKey();
    const miss = await a.tier.get(key);
    if (miss.kind !== 'miss') throw new Error('expected a miss');
    await b.tier.tombstone([key]);
    expect(await a.tier.fill(key, '"stale"', 60_000, miss)).to.equal(false);
    const next = await a.tier.get(key);
    if (next.kind !== 'miss') throw new Error('expected a tombstone');
    expect(await a.tier.fill(key, '"fresh"', 60_000, next)).to.equal(true);
    expect(await a.redis.get(key)).to.equal('"fresh"');
  });

  it('reloads the fill script after SCRIPT FLUSH', async () => {
    const { key } = newKey();
    await a.redis.script('FLUSH');
    const miss = await a.tier.get(key);
    if (miss.kind !== 'miss') throw new Error('expected a miss');
    expect(await a.tier.fill(key, '1', 60_000, miss)).to.equal(true);
  });

  it('drops a whole tenant in Redis and on the other gateway, and only that tenant', async () => {
    const { tenant, key: k1 } = newKey();
    const k2 = cacheKeys.product(tenant, 'second');
    const { key: other } = newKey();
    for (const k of [k1, k2, other]) {
      table.write(k, 1);
      await a.cache.getOrLoad(k, table.loader(k));
    }
    const heard = a.received((m) => m.kind === 'tenant' && m.tenantId === tenant);
    await b.cache.invalidateTenant(tenant);
    await heard;
    expect(await a.redis.get(k1)).to.match(/^!tomb:/);
    expect(await a.redis.get(k2)).to.match(/^!tomb:/);
    expect(await a.redis.get(other)).to.equal(JSON.stringify({ id: other, version: 1 }));
    expect((await a.cache.getOrLoad(k1, table.loader(k1))).source).to.equal('loaded');
    expect((await a.cache.getOrLoad(other, table.loader(other))).source).to.equal('local');
  });

  it('traces the Redis side of a read and of an invalidation', async () => {
    const { key } = newKey();
    table.write(key, 1);
    const tracer = trace.getTracer('cache-test');
    const traceId = await tracer.startActiveSpan('test-root', async (root) => {
      await a.cache.getOrLoad(key, table.loader(key));
      await a.cache.invalidate([key]);
      root.end();
      return root.spanContext().traceId;
    });
    const spans = spanExporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    const get = spans.find((s) => s.name === 'cache.get');
    const invalidate = spans.find((s) => s.name === 'cache.invalidate');
    expect(get?.attributes).to.include({ 'cache.result': 'miss', 'cache.key_count': 1 });
    expect(invalidate?.attributes).to.include({ 'cache.result': 'ok', 'cache.key_count': 1 });
  });
});

describe('cache: Redis dead, hung and back', function () {
  let server: RedisServer;
  let a: TestGateway;
  let b: TestGateway;
  const table = new FakeTable();

  before(async () => {
    server = await RedisServer.start();
    a = new TestGateway(server.url, 'gw-a');
    b = new TestGateway(server.url, 'gw-b');
    await waitFor('both gateways subscribed', () => a.ready && b.ready);
  });

  after(async () => {
    a?.close();
    b?.close();
    server?.signal('SIGCONT');
    await server?.kill();
  });

  /** Reads fresh keys in a burst, one by one, and in a burst again, checking every value, bound and result. */
  async function readsWhileDown(gw: TestGateway): Promise<void> {
    const keys = Array.from({ length: 20 }, () => newKey().key);
    for (const k of keys) table.write(k, 7);
    const resultsBefore = gw.results.length;
    const calls: Array<{ value: { value: unknown; source: string }; ms: number }> = [];
    const burst = () => Promise.all(keys.map((k) => timed(() => gw.cache.getOrLoad(k, table.loader(k)))));
    calls.push(...(await burst()));
    for (const k of keys) calls.push(await timed(() => gw.cache.getOrLoad(k, table.loader(k))));
    calls.push(...(await burst()));
    for (const [i, { value }] of calls.entries()) expect(value).to.deep.equal({ value: { id: keys[i % 20], version: 7 }, source: 'loaded' });
    const slowest = Math.max(...calls.map((c) => c.ms));
    expect(slowest, 'slowest call (ms)').to.be.below(MAX_CALL_MS);
    expect(gw.results.slice(resultsBefore)).to.deep.equal(Array(60).fill('error'));
  }

  it('answers every read with Redis killed, each call bounded, results reported as error', async () => {
    const { key: warm } = newKey();
    table.write(warm, 1);
    await a.cache.getOrLoad(warm, table.loader(warm));
    await server.kill();
    await readsWhileDown(a);
    await waitFor('A to notice', () => !a.bus.connected, 2000);
    // the local tier is bypassed: this process can no longer hear invalidations
    table.write(warm, 2);
    expect((await a.cache.getOrLoad(warm, table.loader(warm))).value?.version).to.equal(2);
    // writes still succeed: invalidate never throws
    await b.cache.invalidate([warm]);
  });

  it('recovers by itself after a restart on the same port, having flushed the local tier on reconnect', async () => {
    await server.restart();
    await waitFor('gateways back', () => a.ready && b.ready);
    // the invalidation B could not write during the last outage is replayed now
    await waitFor('tombstone replayed', () => b.tier.pendingTombstones === 0, 2000);
    // A caches v1 in its local tier
    const { key } = newKey();
    table.write(key, 1);
    await a.cache.getOrLoad(key, table.loader(key));
    expect((await a.cache.getOrLoad(key, table.loader(key))).source).to.equal('local');

    // Redis dies; B writes v2 meanwhile: its tombstone and broadcast both fail. A is not read
    // during the outage, so nothing but the reconnect flush can clear its local tier.
    const reconnectsBefore = a.reconnects;
    await server.kill();
    await waitFor('B to notice', () => b.redis.status !== 'ready', 2000);
    table.write(key, 2);
    await b.cache.invalidate([key]);
    expect(b.tier.pendingTombstones).to.equal(1);

    await server.restart();
    await waitFor('gateways back', () => a.ready && b.ready);
    // (a heartbeat missed on a loaded machine may add a reconnect; each one flushes too)
    expect(a.reconnects).to.be.at.least(reconnectsBefore + 1);
    expect(await a.cache.getOrLoad(key, table.loader(key))).to.deep.include({ value: { id: key, version: 2 } });
    // B's failed invalidation was replayed once Redis was back
    await waitFor('tombstone replayed', () => b.tier.pendingTombstones === 0, 2000);

    // and the cache hits again
    const { key: fresh } = newKey();
    table.write(fresh, 1);
    const resultsBefore = a.results.length;
    expect((await a.cache.getOrLoad(fresh, table.loader(fresh))).source).to.equal('loaded');
    expect((await b.cache.getOrLoad(fresh, table.loader(fresh))).source).to.equal('redis');
    expect((await a.cache.getOrLoad(fresh, table.loader(fresh))).source).to.equal('local');
    expect(a.results.slice(resultsBefore)).to.deep.equal(['miss', 'hit']);
  });

  it('answers every read with Redis hung (SIGSTOP), notices the hang, and recovers on SIGCONT', async () => {
    await waitFor('gateways ready', () => a.ready && b.ready);
    const { key: warm } = newKey();
    table.write(warm, 1);
    await a.cache.getOrLoad(warm, table.loader(warm));
    server.signal('SIGSTOP');
    try {
      await readsWhileDown(a);
      // nothing closes a hung server's socket: the heartbeat has to notice
      await waitFor('A to notice the hang', () => !a.bus.connected, 3000);
      table.write(warm, 2);
      expect((await a.cache.getOrLoad(warm, table.loader(warm))).value?.version).to.equal(2);
    } finally {
      server.signal('SIGCONT');
    }
    await waitFor('gateways back', () => a.ready && b.ready);
    const { key: fresh } = newKey();
    table.write(fresh, 1);
    await a.cache.getOrLoad(fresh, table.loader(fresh));
    await waitFor('hits again', async () => (await a.cache.getOrLoad(fresh, table.loader(fresh))).source !== 'loaded');
  });

  it('logged each of the outages above once per connection, not once per retry', () => {
    for (const gw of [a, b]) {
      const downs = gw.logs.filter((l) => /unavailable|lost/.test(l.msg) && l.redis === gw.name);
      // three outages (kill, kill, hang) on the main connection
      expect(downs.length, JSON.stringify(downs)).to.be.within(1, 3);
    }
  });
});

describe('cache: a gateway that starts before Redis', function () {
  let server: RedisServer | undefined;
  let gw: TestGateway | undefined;

  after(async () => {
    gw?.close();
    await server?.kill();
  });

  it('answers from the loader until Redis appears, then connects by itself', async () => {
    const port = await freePort();
    gw = new TestGateway(`redis://127.0.0.1:${port}`, 'gw-early');
    const table = new FakeTable();
    const { key } = newKey();
    table.write(key, 1);
    for (let i = 0; i < 3; i++) {
      const { value, ms } = await timed(() => gw!.cache.getOrLoad(key, table.loader(key)));
      expect(value).to.deep.equal({ value: { id: key, version: 1 }, source: 'loaded' });
      expect(ms).to.be.below(MAX_CALL_MS);
    }
    expect(gw.results).to.deep.equal(['error', 'error', 'error']);
    server = await RedisServer.start(port);
    await waitFor('gateway connected', () => gw!.ready);
    expect(gw.reconnects).to.be.at.least(1);
    await gw.cache.getOrLoad(key, table.loader(key));
    expect((await gw.cache.getOrLoad(key, table.loader(key))).source).to.equal('local');
  });
});
