import { expect } from 'chai';
import { Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config/load-config.js';
import { createLogger, type Logger } from '../../src/telemetry/logger.js';
import { Gateway } from '../../src/gateway.js';
import { cacheKeys } from '../../src/cache/cache-keys.js';
import { closeRedisClient, createRedisClient } from '../../src/cache/redis-client.js';
import { BucketEvictionCheck, type EvictionVerdict } from '../../src/limits/bucket-eviction-check.js';
import { RedisServer } from '../support/redis-server.js';
import { ADMIN_TOKEN, http, testCluster } from '../support/test-cluster.js';

interface LogLine {
  level: number;
  msg: string;
  alarm?: string;
  reason?: string;
  policy?: string;
}

/** A logger whose lines the test reads back. */
function capturingLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const text of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(text) as LogLine);
      done();
    },
  });
  return { logger: createLogger('info', sink), lines };
}

async function verdictOf(server: RedisServer, logger: Logger): Promise<EvictionVerdict> {
  const redis = createRedisClient(server.url, { name: 'eviction-test', commandTimeoutMs: 500, connectTimeoutMs: 1000, logger });
  try {
    return await new BucketEvictionCheck(redis, { intervalMs: 60_000, readyTimeoutMs: 3000, logger }).check();
  } finally {
    closeRedisClient(redis);
  }
}

describe('the limits Redis must not evict rate-limit buckets', function () {
  this.timeout(60_000);
  const servers: RedisServer[] = [];
  const start = async (...args: string[]) => {
    const server = await RedisServer.start(undefined, args);
    servers.push(server);
    return server;
  };

  after(async () => {
    for (const s of servers) await s.kill();
  });

  it('allkeys-* and volatile-* (limit keys have TTLs) are an alarm; noeviction is fine', async () => {
    for (const [policy, state] of [['allkeys-lru', 'evicts'], ['volatile-ttl', 'evicts'], ['noeviction', 'safe']] as const) {
      const { logger, lines } = capturingLogger();
      const verdict = await verdictOf(await start('--maxmemory-policy', policy), logger);
      expect(verdict, policy).to.deep.equal({ state, policy });
      const alarms = lines.filter((l) => l.alarm === 'REDIS_EVICTS_RATE_LIMITS');
      expect(alarms, policy).to.have.length(state === 'evicts' ? 1 : 0);
      if (state === 'evicts') expect(alarms[0]!.level).to.equal(50);
    }
  });

  it('says so in the log when CONFIG is disabled (cannot tell)', async () => {
    const { logger, lines } = capturingLogger();
    const verdict = await verdictOf(await start('--rename-command', 'CONFIG', ''), logger);
    expect(verdict.state).to.equal('unknown');
    expect(lines.some((l) => l.level === 40 && /CONFIG is disabled/.test(l.reason ?? ''))).to.equal(true);
  });

  it('production refuses to start on an evicting limits Redis (REDIS_EVICTS_RATE_LIMITS), before touching any database', async () => {
    const evicting = await start('--maxmemory-policy', 'allkeys-lru');
    const env = {
      NODE_ENV: 'production',
      GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN,
      SHARDGATE_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
      LIMITS_REDIS_URL: evicting.url,
      // nothing listens here: the check must come first
      CATALOG_URL: 'postgres://nobody@127.0.0.1:1/none',
    };
    const config = loadConfig(env, { overrides: { shards: [{ id: 'x-1', primary: 'postgres://nobody@127.0.0.1:1/none' }], port: 0, adminPort: 0 } });
    const err = await Gateway.start(config, { logger: createLogger('silent'), adminToken: ADMIN_TOKEN }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as { code?: string }).code).to.equal('REDIS_EVICTS_RATE_LIMITS');
    expect((err as Error).message).to.contain('allkeys-lru');
  });

  it('elsewhere it starts with a warning and the gauge at 1; rate-limit buckets live in the limits Redis, not the cache Redis', async () => {
    const cluster = process.env.SHARDGATE_TEST_CLUSTER!;
    testCluster();
    for (const [policy, gauge] of [['allkeys-lru', 1], ['noeviction', 0]] as const) {
      const limits = await start('--maxmemory-policy', policy);
      const { logger, lines } = capturingLogger();
      const config = loadConfig({ NODE_ENV: 'test', GATEWAY_CONFIG: cluster, GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN, LIMITS_REDIS_URL: limits.url });
      const gateway = await Gateway.start(config, { logger, adminToken: ADMIN_TOKEN });
      try {
        expect(lines.filter((l) => l.alarm === 'REDIS_EVICTS_RATE_LIMITS'), policy).to.have.length(gauge);
        const metrics = await http('GET', `${gateway.adminUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
        expect(metrics.text).to.match(new RegExp(`^shardgate_limits_redis_evicting ${gauge}$`, 'm'));

        const id = `evict-${randomBytes(6).toString('hex')}`;
        const created = await http('POST', `${gateway.adminUrl}/admin/tenants`, { body: { name: id, id }, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
        expect(created.status, created.text).to.equal(201);
        const read = await http('GET', `${gateway.tenantUrl}/v1/users`, { headers: { authorization: `Bearer ${created.body.apiKey as string}` } });
        expect(read.status, read.text).to.equal(200);
        const key = cacheKeys.rateLimit(id);
        expect(await gateway.limitsRedis!.redis.exists(key), 'bucket in the limits Redis').to.equal(1);
        expect(await gateway.cacheStack.redis!.exists(key), 'bucket not in the cache Redis').to.equal(0);
      } finally {
        await gateway.stop(1000, 0);
      }
    }
  });
});
