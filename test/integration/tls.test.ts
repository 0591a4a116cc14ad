import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { loadConfig } from '../../src/config/load-config.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { Gateway } from '../../src/gateway.js';
import { ShardNode } from '../../src/cluster/shard-node.js';
import { translateDbError } from '../../src/data/translate-db-error.js';
import { Keyring, PasswordHasher } from '../../src/models/index.js';
import { PgTls } from '../../src/transport/pg-tls.js';
import { RedisTls } from '../../src/transport/redis-tls.js';
import { tlsFailureReason } from '../../src/transport/connect-failure.js';
import { closeRedisClient, createRedisClient } from '../../src/cache/redis-client.js';
import { makeTestCa, TlsPostgres, TlsRedis, type TestCa } from '../support/tls-servers.js';
import { ADMIN_TOKEN, http, testCluster } from '../support/test-cluster.js';

const NAME = 'shard.test';
const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');

/** Connects with the policy's options; whether the session is encrypted (pg_stat_ssl), or the failure. */
async function connectWith(tls: PgTls, url: string): Promise<{ ssl: boolean } | { error: unknown }> {
  const client = new pg.Client({ ...(await tls.clientOptions(url)), connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    return { ssl: rows[0]!.ssl };
  } catch (error) {
    return { error };
  } finally {
    await client.end().catch(() => undefined);
  }
}

describe('TLS to PostgreSQL and Redis (a server of the test\'s own, a CA made with openssl)', function () {
  this.timeout(120_000);
  let dir: string;
  let ca: TestCa;
  let caPem: string;
  let postgres: TlsPostgres;
  let redis: TlsRedis;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'shardgate-tls-'));
    ca = makeTestCa(dir, NAME);
    caPem = readFileSync(ca.caCert, 'utf8');
    postgres = await TlsPostgres.start(dir, ca);
    redis = await TlsRedis.start(ca);
  });

  after(async () => {
    postgres?.stop();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('PostgreSQL', () => {
    it('verify-full with the CA and the certificate\'s name: an encrypted session', async () => {
      const result = await connectWith(PgTls.fromConfig({ mode: 'verify-full', ca: ca.caCert, servername: NAME }), postgres.url());
      expect(result).to.deep.equal({ ssl: true });
    });

    it('a URL cannot weaken it: sslmode=disable (and a file path) in the URL are dropped, the session is still verified TLS', async () => {
      const url = `${postgres.url()}?sslmode=disable&sslrootcert=${encodeURIComponent('/etc/passwd')}`;
      const result = await connectWith(PgTls.fromConfig({ mode: 'verify-full', ca: ca.caCert, servername: NAME }), url);
      expect(result).to.deep.equal({ ssl: true });
    });

    it('verify-full fails with a wrong servername, without the CA, and with another CA: a TLS reason of our own', async () => {
      const cases = [
        { settings: { mode: 'verify-full' as const, ca: ca.caCert, servername: 'other.test' }, reason: 'certificate does not name the server' },
        { settings: { mode: 'verify-full' as const, servername: NAME }, reason: 'certificate not trusted' },
        { settings: { mode: 'verify-full' as const, ca: ca.otherCaCert, servername: NAME }, reason: 'certificate not trusted' },
        // the certificate names shard.test, never 127.0.0.1: the URL's host alone does not match
        { settings: { mode: 'verify-full' as const, ca: ca.caCert }, reason: 'certificate does not name the server' },
      ];
      for (const { settings, reason } of cases) {
        const result = await connectWith(PgTls.fromConfig(settings), postgres.url());
        expect(result, JSON.stringify(settings)).to.have.property('error');
        expect(tlsFailureReason((result as { error: unknown }).error), JSON.stringify(settings)).to.contain(reason);
      }
    });

    it('verify-ca checks the CA, not the name; require encrypts without checking', async () => {
      expect(await connectWith(PgTls.fromConfig({ mode: 'verify-ca', ca: ca.caCert }), postgres.url())).to.deep.equal({ ssl: true });
      expect(await connectWith(PgTls.fromConfig({ mode: 'require' }), postgres.url())).to.deep.equal({ ssl: true });
      const wrongCa = await connectWith(PgTls.fromConfig({ mode: 'verify-ca', ca: ca.otherCaCert }), postgres.url());
      expect(tlsFailureReason((wrongCa as { error: unknown }).error)).to.contain('not trusted');
    });

    it('prefer: TLS where the server offers it, plain text where it does not (the local cluster has no TLS)', async () => {
      const tls = PgTls.fromConfig({ mode: 'prefer' });
      expect(await connectWith(tls, postgres.url())).to.deep.equal({ ssl: true });
      expect(await connectWith(tls, testCluster().catalog)).to.deep.equal({ ssl: false });
      const required = await connectWith(PgTls.fromConfig({ mode: 'require' }), testCluster().catalog);
      expect(tlsFailureReason((required as { error: unknown }).error)).to.equal('the server does not offer TLS');
    });

    it('a shard node whose certificate fails verification is unavailable, and the answer names no server detail', async () => {
      const settings = { poolMax: 1, poolMin: 0, poolIdleMs: 1000, poolAcquireMs: 3000, statementTimeoutMs: 1000, idleInTransactionTimeoutMs: 1000, connectTimeoutMs: 2000 };
      const deps = { hasher: new PasswordHasher({ cost: 1024 }), keyring: new Keyring({ k: Buffer.alloc(32, 1).toString('base64') }, 'k'), integrityAlarm: () => undefined };
      const good = new ShardNode('tls-x', 'primary', 'primary', postgres.url(), { ...settings, tls: new PgTls({ mode: 'verify-full', ca: caPem, servername: NAME }) }, deps);
      const bad = new ShardNode('tls-x', 'primary', 'primary', postgres.url(), { ...settings, tls: new PgTls({ mode: 'verify-full', ca: caPem, servername: 'evil.test' }) }, deps);
      try {
        const [row] = await good.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()', []);
        expect(row?.ssl).to.equal(true);
        const err = await bad.query('SELECT 1', []).then(() => undefined, (e: unknown) => e);
        const answered = translateDbError(err, 'tls-x') as { code?: string; message: string };
        expect(answered.code).to.equal('SHARD_UNAVAILABLE');
        expect(answered.message).to.equal('Shard tls-x is unavailable');
        expect(answered.message).to.not.match(/shard\.test|evil|127\.0\.0\.1|certificate/);
      } finally {
        await good.close();
        await bad.close();
      }
    });
  });

  describe('Redis', () => {
    it('rediss:// with the CA and name: commands run over TLS; without the CA it never becomes ready', async () => {
      const options = { commandTimeoutMs: 500, connectTimeoutMs: 1000, name: 'tls-test', logger };
      const good = createRedisClient(redis.url, { ...options, tls: new RedisTls({ ca: caPem, servername: NAME }).options(redis.url) });
      const bad = createRedisClient(redis.url, { ...options, tls: new RedisTls({ servername: NAME }).options(redis.url) });
      try {
        await new Promise<void>((resolve, reject) => {
          good.once('ready', () => resolve());
          setTimeout(() => reject(new Error('TLS Redis client not ready')), 5000);
        });
        expect(await good.ping()).to.equal('PONG');
        await new Promise((r) => setTimeout(r, 1000));
        expect(bad.status).to.not.equal('ready');
        expect(new RedisTls({ ca: caPem }).options('redis://127.0.0.1:1')).to.equal(undefined);
      } finally {
        closeRedisClient(good);
        closeRedisClient(bad);
      }
    });
  });

  describe('a whole gateway over TLS (catalog, shard, migrations, cache and limits Redis)', () => {
    it('serves requests with every PostgreSQL connection verified and Redis on rediss://', async () => {
      const admin = new pg.Client({ ...(await PgTls.fromConfig({ mode: 'require' }).clientOptions(postgres.url())) });
      await admin.connect();
      for (const db of ['catalog', 'shard1']) await admin.query(`CREATE DATABASE ${db}`).catch(() => undefined);
      const config = loadConfig(
        { NODE_ENV: 'test', GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN },
        {
          overrides: {
            catalog: `${postgres.url('catalog')}?sslmode=disable`,
            shards: [{ id: 'tls-1', primary: postgres.url('shard1') }],
            redis: redis.url,
            redisTls: { ca: ca.caCert, servername: NAME },
            db: { tls: { mode: 'verify-full', ca: ca.caCert, servername: NAME } },
          },
        },
      );
      const gateway = await Gateway.start(config, { logger, adminToken: ADMIN_TOKEN, migrateShards: true });
      try {
        const created = await http('POST', `${gateway.adminUrl}/admin/tenants`, { body: { name: 'TLS tenant', id: 'tls-tenant' }, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
        expect(created.status, created.text).to.equal(201);
        const user = await http('POST', `${gateway.tenantUrl}/v1/users`, {
          body: { username: 'tls', email: 'tls@example.com', password: 'correct horse battery' },
          headers: { authorization: `Bearer ${created.body.apiKey as string}` },
        });
        expect(user.status, user.text).to.equal(201);
        const { rows } = await admin.query<{ plain: string }>(
          "SELECT count(*)::text AS plain FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.application_name LIKE 'shardgate%' AND NOT s.ssl",
        );
        expect(rows[0]?.plain).to.equal('0');
        expect(gateway.cacheStack.redis?.status).to.equal('ready');
        expect(gateway.limitsRedis?.redis.status).to.equal('ready');
      } finally {
        await gateway.stop(1000, 0);
        await admin.end();
      }
    });
  });
});
