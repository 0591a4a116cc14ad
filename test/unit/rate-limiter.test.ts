import { expect } from 'chai';
import pino from 'pino';
import type { Redis } from 'ioredis';
import { TenantRateLimiter, leaseSize } from '../../src/limits/tenant-rate-limiter.js';

const logger = pino({ level: 'silent' });
const limits = { ratePerSec: 1, burst: 10 };

/** Just enough of an ioredis client: a status and an evalsha that does what the test says. */
function fakeRedis(evalsha: () => Promise<unknown>, status = 'ready'): Redis & { calls: number } {
  const fake = {
    status,
    calls: 0,
    evalsha() {
      fake.calls++;
      return evalsha();
    },
    eval() {
      return evalsha();
    },
  };
  return fake as unknown as Redis & { calls: number };
}

describe('TenantRateLimiter (no network)', () => {
  it('without Redis decides every request locally with the whole plan', async () => {
    const limiter = new TenantRateLimiter({ redis: undefined, expectedPods: 4, timeoutMs: 50, logger });
    const decisions = [];
    for (let i = 0; i < 11; i++) decisions.push(await limiter.take('t1', limits));
    expect(decisions.filter((d) => d.allowed)).to.have.length(10);
    expect(decisions[10]).to.include({ allowed: false, limit: 10, source: 'local' });
    expect(decisions[10]!.retryAfterMs).to.be.within(1, 1000);
    expect((await limiter.take('t2', limits)).allowed).to.equal(true);
  });

  it('uses the shared decision while Redis answers', async () => {
    const redis = fakeRedis(async () => [0, 0, 2500]);
    const limiter = new TenantRateLimiter({ redis, expectedPods: 2, timeoutMs: 50, logger });
    expect(await limiter.take('t', limits)).to.deep.equal({ allowed: false, limit: 10, remaining: 0, retryAfterMs: 2500, source: 'shared' });
  });

  it('falls back to the per-pod share when Redis errors, then backs off from Redis', async () => {
    let now = 0;
    const redis = fakeRedis(async () => Promise.reject(new Error('Connection is closed.')));
    const limiter = new TenantRateLimiter({ redis, expectedPods: 2, timeoutMs: 50, backoffMs: 1000, logger, now: () => now });
    const decisions = [];
    for (let i = 0; i < 6; i++) decisions.push(await limiter.take('t', limits));
    expect(decisions.map((d) => d.allowed)).to.deep.equal([true, true, true, true, true, false]); // burst 10 ÷ 2 pods
    expect(decisions.every((d) => d.source === 'local' && d.limit === 5)).to.equal(true);
    expect(redis.calls).to.equal(1); // backing off: Redis is not asked again for a second
    now = 1001;
    await limiter.take('t', limits);
    expect(redis.calls).to.equal(2);
  });

  it('never waits on a hung Redis past its timeout', async () => {
    const redis = fakeRedis(() => new Promise(() => undefined));
    const limiter = new TenantRateLimiter({ redis, expectedPods: 1, timeoutMs: 40, logger });
    const started = performance.now();
    const decisions = await Promise.all(Array.from({ length: 20 }, () => limiter.take('t', limits)));
    expect(performance.now() - started).to.be.below(500);
    expect(decisions.every((d) => d.source === 'local')).to.equal(true);
    expect(decisions.filter((d) => d.allowed)).to.have.length(10);
  });

  it('does not ask a Redis client that is not connected', async () => {
    const redis = fakeRedis(async () => [1, 9, 0], 'reconnecting');
    const limiter = new TenantRateLimiter({ redis, expectedPods: 1, timeoutMs: 40, logger });
    expect((await limiter.take('t', limits)).source).to.equal('local');
    expect(redis.calls).to.equal(0);
  });

  it('treats a malformed reply as a failure, not as a decision', async () => {
    const redis = fakeRedis(async () => 'OK');
    const limiter = new TenantRateLimiter({ redis, expectedPods: 1, timeoutMs: 40, logger });
    expect(await limiter.take('t', limits)).to.include({ allowed: true, source: 'local' });
  });
});

describe('TenantRateLimiter leases', () => {
  /** A Redis bucket without refill: grants what it has, up to what is asked. */
  function bucketRedis(tokens: number): Redis & { calls: number; wants: number[] } {
    let left = tokens;
    const fake = {
      status: 'ready',
      calls: 0,
      wants: [] as number[],
      async evalsha(_sha: string, _keys: number, _key: string, _rate: string, _burst: string, want: string) {
        fake.calls++;
        fake.wants.push(Number(want));
        const granted = left >= 1 ? Math.min(Number(want), Math.floor(left)) : 0;
        left -= granted;
        return [granted, Math.floor(left), granted === 0 ? 700 : 0];
      },
    };
    return fake as unknown as Redis & { calls: number; wants: number[] };
  }
  const big = { ratePerSec: 1000, burst: 1000 };

  it('sizes leases small against the burst: one token at a time for small plans', () => {
    expect(leaseSize({ ratePerSec: 0.2, burst: 10 }, 2, 10)).to.equal(1);
    expect(leaseSize({ ratePerSec: 200, burst: 400 }, 3, 10)).to.equal(10);
    expect(leaseSize({ ratePerSec: 200, burst: 40 }, 3, 10)).to.equal(3);
    expect(leaseSize(big, 1, 1)).to.equal(1);
  });

  it('asks Redis once per lease and counts what the pod holds as remaining', async () => {
    const redis = bucketRedis(1000);
    const limiter = new TenantRateLimiter({ redis, expectedPods: 1, timeoutMs: 50, leaseMax: 10, logger });
    const decisions = [];
    for (let i = 0; i < 25; i++) decisions.push(await limiter.take('t', big));
    expect(decisions.every((d) => d.allowed && d.source === 'shared')).to.equal(true);
    expect(redis.calls).to.equal(3);
    expect(decisions.map((d) => d.remaining).slice(0, 12)).to.deep.equal([999, 998, 997, 996, 995, 994, 993, 992, 991, 990, 989, 988]);
  });

  it('shares one Redis call among concurrent requests of a tenant', async () => {
    const redis = bucketRedis(1000);
    const limiter = new TenantRateLimiter({ redis, expectedPods: 1, timeoutMs: 50, leaseMax: 10, logger });
    const decisions = await Promise.all(Array.from({ length: 10 }, () => limiter.take('t', big)));
    expect(decisions.every((d) => d.allowed)).to.equal(true);
    expect(redis.calls).to.equal(1);
  });

  it('never allows more than the shared bucket granted, and refuses with its wait once it is empty', async () => {
    const redis = bucketRedis(15);
    const limiter = new TenantRateLimiter({ redis, expectedPods: 1, timeoutMs: 50, leaseMax: 10, logger });
    const decisions = await Promise.all(Array.from({ length: 20 }, () => limiter.take('t', big)));
    expect(decisions.filter((d) => d.allowed)).to.have.length(15);
    expect(decisions.filter((d) => !d.allowed).every((d) => d.source === 'shared' && d.retryAfterMs === 700 && d.remaining === 0)).to.equal(true);
    expect(redis.wants).to.deep.equal([10, 10, 10]);
    expect(limiter.leases).to.equal(0);
  });

  it('drops leased tokens once they expire and asks Redis again', async () => {
    let now = 0;
    const redis = bucketRedis(1000);
    const limiter = new TenantRateLimiter({ redis, expectedPods: 1, timeoutMs: 50, leaseMax: 10, leaseTtlMs: 1000, logger, now: () => now });
    await limiter.take('t', big);
    expect(limiter.leases).to.equal(1);
    now = 1000;
    await limiter.take('t', big);
    expect(redis.calls).to.equal(2);
  });
});
