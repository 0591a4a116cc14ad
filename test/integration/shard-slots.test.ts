import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisServer } from '../support/redis-server.js';
import { ShardSlots, type SlotLease } from '../../src/limits/shard-slots.js';
import { cacheKeys } from '../../src/cache/cache-keys.js';

describe('ShardSlots: the slot lease script on a real Redis', function () {
  this.timeout(30_000);
  const TTL_MS = 400;
  let server: RedisServer;
  let redis: Redis;
  let slots: ShardSlots;

  before(async () => {
    server = await RedisServer.start();
    redis = new Redis(server.url);
    slots = new ShardSlots({ redis, leaseTtlMs: TTL_MS, timeoutMs: 2000 });
  });

  after(async () => {
    redis?.disconnect();
    await server?.kill();
  });

  // each test on its own shard and tenants, so no test sees another's leases
  const lease = (shardId: string, tenantId: string): SlotLease => ({ id: randomUUID(), tenantId, shardId });

  it("checks the tenant's cap before the shard's, counts both, and gives slots back", async () => {
    const shard = `s-${randomUUID().slice(0, 8)}`;
    const limits = { tenant: 2, shard: 3 };
    const a1 = lease(shard, 'a');
    expect(await slots.acquire(a1, limits)).to.deep.equal({ verdict: 'granted', inUse: { tenant: 1, shard: 1 } });
    expect(await slots.acquire(lease(shard, 'a'), limits)).to.deep.equal({ verdict: 'granted', inUse: { tenant: 2, shard: 2 } });
    expect(await slots.acquire(lease(shard, 'a'), limits)).to.deep.equal({ verdict: 'tenant', inUse: { tenant: 2, shard: 2 } });
    expect((await slots.acquire(lease(shard, 'b'), limits)).verdict).to.equal('granted');
    expect(await slots.acquire(lease(shard, 'c'), limits)).to.deep.equal({ verdict: 'shard', inUse: { tenant: 0, shard: 3 } });
    // a's cap and the shard's both full: a is told about its own
    expect((await slots.acquire(lease(shard, 'a'), limits)).verdict).to.equal('tenant');
    await slots.release(a1);
    expect(await redis.zscore(cacheKeys.shardSlots(shard), a1.id)).to.equal(null);
    expect((await slots.acquire(lease(shard, 'c'), limits)).verdict).to.equal('granted');
    // both keys share the shard's hash tag (one Redis Cluster slot) and expire with their leases
    expect(cacheKeys.tenantSlots(shard, 'c')).to.contain(`{${shard}}`);
    const pttl = await redis.pttl(cacheKeys.tenantSlots(shard, 'c'));
    expect(pttl).to.be.within(1, TTL_MS);
  });

  it('drops expired leases before counting, keeps renewed ones, and adds back a renewed lease that had expired', async () => {
    const shard = `s-${randomUUID().slice(0, 8)}`;
    const limits = { tenant: 1, shard: 10 };
    const kept = lease(shard, 'kept');
    const lost = lease(shard, 'lost');
    await slots.acquire(kept, limits);
    await slots.acquire(lost, limits);
    // renewed every 150 ms over 3 lease lives: still counted; the other one expires
    for (let i = 0; i < 8; i++) {
      await new Promise((r) => setTimeout(r, 150));
      await slots.renew(shard, [kept]);
    }
    expect((await slots.acquire(lease(shard, 'kept'), limits)).verdict).to.equal('tenant');
    expect(await slots.acquire(lease(shard, 'lost'), limits)).to.deep.equal({ verdict: 'granted', inUse: { tenant: 1, shard: 2 } });
    // a lease whose request outlived it (Redis was out): renewing adds it back, even above the cap
    const late = lease(shard, 'late');
    await slots.renew(shard, [late]);
    await slots.renew(shard, [late, kept]);
    expect(await redis.zcard(cacheKeys.tenantSlots(shard, 'late'))).to.equal(1);
    expect((await slots.acquire(lease(shard, 'late'), limits)).verdict).to.equal('tenant');
  });

  it('loads the script again after SCRIPT FLUSH', async () => {
    const shard = `s-${randomUUID().slice(0, 8)}`;
    await redis.script('FLUSH');
    expect((await slots.acquire(lease(shard, 'a'), { tenant: 1, shard: 1 })).verdict).to.equal('granted');
  });

  it('rejects within its bound when Redis hangs', async () => {
    const hung = new ShardSlots({ redis, leaseTtlMs: TTL_MS, timeoutMs: 100 });
    server.signal('SIGSTOP');
    try {
      let error: unknown;
      try {
        await hung.acquire(lease('s-hung', 'a'), { tenant: 1, shard: 1 });
      } catch (err) {
        error = err;
      }
      expect((error as Error | undefined)?.message).to.match(/no answer from Redis within 100 ms/);
    } finally {
      server.signal('SIGCONT');
    }
  });
});
