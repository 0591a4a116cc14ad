import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../src/config/load-config.js';

describe('limits configuration', () => {
  it('defaults to 200/s, burst 400 for the standard plan and 8 concurrent requests per tenant, below the pool', () => {
    const config = loadConfig({ NODE_ENV: 'development' });
    expect(config.limits).to.deep.include({ enabled: true, expectedPods: 1, maxConcurrentPerTenant: 8, queueTimeoutMs: 1000 });
    expect(config.limits.plans.standard).to.deep.equal({ ratePerSec: 200, burst: 400 });
    expect(config.limits.maxConcurrentPerTenant).to.be.below(config.pool.max);
  });

  it('budgets concurrency fleet-wide: per shard, per tenant sized for the expected pods in production, leases of 3 s', () => {
    const config = loadConfig({ NODE_ENV: 'development' });
    expect(config.limits).to.deep.include({ shardConcurrency: 64, concurrencyLeaseTtlMs: 3000 });
    const prod = loadConfig({ NODE_ENV: 'production', GATEWAY_ADMIN_TOKEN: 'gT7qL2vN9xRk4mZp8sWc3bYh6dJf1aQe', SHARDGATE_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}` });
    // the cap is fleet-wide now: each of the expected pods falls back to the 8 a pod allowed before
    expect(prod.limits.maxConcurrentPerTenant).to.equal(8 * prod.limits.expectedPods);
    // under the request role's connection limit (80) on every node of a shard (k8s/base/postgres)
    expect(prod.limits.shardConcurrency).to.be.below(80);
    expect(() => loadConfig({ NODE_ENV: 'test' }, { overrides: { limits: { concurrencyLeaseTtlMs: 100 } } })).to.throw(ConfigError, /concurrencyLeaseTtlMs/);
    expect(() => loadConfig({ NODE_ENV: 'test' }, { overrides: { limits: { shardConcurrency: 0 } } })).to.throw(ConfigError, /shardConcurrency/);
  });

  it('lets tests run unthrottled', () => {
    expect(loadConfig({ NODE_ENV: 'test' }).limits.plans.standard!.ratePerSec).to.be.at.least(100_000);
  });

  it('adds plans, and refuses a bad bucket or cap', () => {
    const config = loadConfig({ NODE_ENV: 'test' }, { overrides: { limits: { plans: { gold: { ratePerSec: 0.5, burst: 3 } } } } });
    expect(Object.keys(config.limits.plans).sort()).to.deep.equal(['gold', 'standard']);
    expect(() => loadConfig({ NODE_ENV: 'test' }, { overrides: { limits: { plans: { standard: { ratePerSec: 0, burst: 1 } } } } })).to.throw(ConfigError, /limits.plans.standard.ratePerSec/);
    expect(() => loadConfig({ NODE_ENV: 'test' }, { overrides: { limits: { plans: { standard: { ratePerSec: 1, burst: 0.5 } } } } })).to.throw(ConfigError, /burst/);
    expect(() => loadConfig({ NODE_ENV: 'test' }, { overrides: { limits: { maxConcurrentPerTenant: 0 } } })).to.throw(ConfigError, /maxConcurrentPerTenant/);
  });

  it('turns limits off with LIMITS_ENABLED=0', () => {
    expect(loadConfig({ NODE_ENV: 'test', LIMITS_ENABLED: '0' }).limits.enabled).to.equal(false);
    expect(loadConfig({ NODE_ENV: 'test', LIMITS_ENABLED: 'true' }).limits.enabled).to.equal(true);
  });
});
