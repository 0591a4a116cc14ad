import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisServer } from '../support/redis-server.js';
import { ShardSlots } from '../../src/limits/shard-slots.js';
import { ConcurrencyBudget, type SlotGrant } from '../../src/limits/concurrency-budget.js';
import { cacheKeys } from '../../src/cache/cache-keys.js';
import { createLogger } from '../../src/telemetry/logger.js';

function granted(g: SlotGrant): () => void {
  if (!g.ok) throw new Error(`expected a slot, got ${g.reason}`);
  return g.release;
}

async function until(condition: () => Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('ConcurrencyBudget on a real Redis: a released slot lingers for its tenant', function () {
  this.timeout(30_000);
  let server: RedisServer;
  let redis: Redis;
  let slots: ShardSlots;
  const budgets: ConcurrencyBudget[] = [];

  before(async () => {
    server = await RedisServer.start();
    redis = new Redis(server.url);
    await redis.ping(); // connected: a budget decides alone while its Redis is not
    slots = new ShardSlots({ redis, leaseTtlMs: 3000, timeoutMs: 2000 });
  });

  after(async () => {
    for (const b of budgets) b.close();
    redis?.disconnect();
    await server?.kill();
  });

  function budget(lingerMs: number, queueTimeoutMs = 2000): ConcurrencyBudget {
    const b = new ConcurrencyBudget({ slots, limits: { tenant: 2, shard: 2 }, expectedPods: 2, leaseTtlMs: 3000, lingerMs, maxQueued: 10, queueTimeoutMs, logger: createLogger('silent') });
    budgets.push(b);
    return b;
  }

  /** slot-script runs Redis has answered so far */
  async function scriptRuns(): Promise<number> {
    const info = await redis.info('commandstats');
    return [...info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
  }

  const inRedis = (shard: string) => redis.zcard(cacheKeys.shardSlots(shard));

  it("gives the tenant its released slot again with no Redis round trip, still counted fleet-wide, and gives it back once the linger is over", async () => {
    const shard = `s-${randomUUID().slice(0, 8)}`;
    // long enough that no stall of a busy machine ends it before the other pod asks
    const pod = budget(1500);
    const other = budget(1500, 0);
    granted(await pod.acquire('a', shard))();
    const runs = await scriptRuns();
    for (let i = 0; i < 5; i++) granted(await pod.acquire('a', shard))();
    expect(await scriptRuns(), 'Redis round trips for five requests on a lingering slot').to.equal(runs);
    expect(pod.lingering()).to.equal(1);
    expect(await inRedis(shard), 'the lingering slot is still leased').to.equal(1);
    // the fleet cap still holds: with both of a's slots lingering on one pod, the other pod gets none
    const r1 = granted(await pod.acquire('a', shard));
    const r2 = granted(await pod.acquire('a', shard));
    r1();
    r2();
    expect(await other.acquire('a', shard)).to.deep.equal({ ok: false, reason: 'tenant' });
    await until(async () => (await inRedis(shard)) === 0, 'the lingering slots to go back');
    expect(pod.lingering()).to.equal(0);
    granted(await other.acquire('a', shard))();
  });

  it('hands lingering slots back at once when another tenant of their shard is refused for them', async () => {
    const shard = `s-${randomUUID().slice(0, 8)}`;
    // lingering far longer than anything here, and no waiting: only the hand-back can serve c
    const pod = budget(20_000, 0);
    const a1 = granted(await pod.acquire('a', shard));
    const a2 = granted(await pod.acquire('a', shard));
    a1();
    a2();
    expect(await inRedis(shard)).to.equal(2);
    granted(await pod.acquire('c', shard))();
    expect(pod.lingering()).to.be.at.most(1); // c's own, released just now
  });

  it('gives lingering slots back when closed', async () => {
    const shard = `s-${randomUUID().slice(0, 8)}`;
    const pod = budget(20_000);
    granted(await pod.acquire('a', shard))();
    expect(await inRedis(shard)).to.equal(1);
    pod.close();
    await until(async () => (await inRedis(shard)) === 0, 'the closed budget to give its slot back');
  });

  it('lingers nothing when told not to (lingerMs 0): each release goes back', async () => {
    const shard = `s-${randomUUID().slice(0, 8)}`;
    const pod = budget(0);
    granted(await pod.acquire('a', shard))();
    await until(async () => (await inRedis(shard)) === 0, 'the slot to go back');
    expect(pod.lingering()).to.equal(0);
  });
});
