import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, describeConfig, ConfigError, deepMerge } from '../../src/config/load-config.js';
import { ShardSecrets } from '../../src/catalog/shard-secrets.js';

const STRONG_TOKEN = 'k7Qp2XwZr9LmT4vB8nYc3HdF6sJg1aRe';

describe('loadConfig', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sg-config-'));
  const topology = path.join(dir, 'gateway.json');
  writeFileSync(
    topology,
    JSON.stringify({
      catalog: 'postgres://u:secret@127.0.0.1:1/c',
      redis: 'redis://127.0.0.1:2',
      shards: [{ id: 'shard-1', primary: 'postgres://u:secret@127.0.0.1:3/s', replicas: ['postgres://127.0.0.1:4/s'] }],
    }),
  );

  it('layers defaults < env file < GATEWAY_CONFIG < env vars', () => {
    const config = loadConfig({ NODE_ENV: 'test', GATEWAY_CONFIG: topology, PORT: '9999', ROUTING_HEADERS: '0' });
    expect(config.port).to.equal(9999);
    expect(config.adminPort).to.equal(0); // from test.json
    expect(config.pool.max).to.equal(10); // from default.json
    expect(config.routing.routingHeaders).to.equal(false);
    expect(config.shards[0]!.id).to.equal('shard-1');
    expect(config.db.preparedStatements).to.equal(true);
    const unprepared = loadConfig({ NODE_ENV: 'test', GATEWAY_CONFIG: topology, DB_PREPARED_STATEMENTS: '0' }).db;
    expect(unprepared).to.include({ preparedStatements: false, statementTimeoutMs: 5000 });
  });

  it('binds loopback on the embedded default and every address with a catalog, unless HOST says otherwise', () => {
    expect(loadConfig({ NODE_ENV: 'development' }).host).to.equal('127.0.0.1');
    expect(loadConfig({ NODE_ENV: 'development', GATEWAY_CONFIG: topology }).host).to.equal('0.0.0.0');
    expect(loadConfig({ NODE_ENV: 'development', HOST: '0.0.0.0' }).host).to.equal('0.0.0.0');
    expect(loadConfig({ NODE_ENV: 'development', GATEWAY_CONFIG: topology, HOST: '10.1.2.3' }).host).to.equal('10.1.2.3');
  });

  it('has edge limits by default and keeps the headers timeout below the request timeouts', () => {
    const config = loadConfig({ NODE_ENV: 'development' });
    expect(config.http).to.include({ requestTimeoutMs: 30_000, adminRequestTimeoutMs: 600_000, headersTimeoutMs: 10_000 });
    expect(config.transfer.maxImportBytes).to.equal(256 * 1024 * 1024);
    expect(config.limits.adminAuth).to.deep.equal({ maxFailures: 10, windowMs: 300_000, maxClients: 10_000 });
    expect(config.security).to.include({ scryptConcurrency: 2, scryptMaxQueued: 64 });
    expect(() => loadConfig({ NODE_ENV: 'test' }, { overrides: { http: { requestTimeoutMs: 5000, headersTimeoutMs: 5000 } } })).to.throw(ConfigError, /http.headersTimeoutMs/);
  });

  it('freezes the result', () => {
    const config = loadConfig({ NODE_ENV: 'test' });
    expect(Object.isFrozen(config)).to.equal(true);
    expect(Object.isFrozen(config.routing)).to.equal(true);
  });

  it('rejects bad values naming the field', () => {
    expect(() => loadConfig({ NODE_ENV: 'test', PORT: 'eighty' })).to.throw(ConfigError, /PORT/);
    expect(() => loadConfig({ NODE_ENV: 'test' }, { overrides: { routing: { maxReplicaLagMs: -1 } } })).to.throw(ConfigError, /routing.maxReplicaLagMs/);
    expect(() => loadConfig({ NODE_ENV: 'test' }, { overrides: { nonsense: 1 } })).to.throw(ConfigError);
  });

  it('requires an admin token in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', GATEWAY_CONFIG: topology })).to.throw(ConfigError, /adminToken/);
    const keys = `k1:${Buffer.alloc(32, 7).toString('base64')}`;
    const prod = loadConfig({ NODE_ENV: 'production', GATEWAY_CONFIG: topology, GATEWAY_ADMIN_TOKEN: STRONG_TOKEN, SHARDGATE_ENCRYPTION_KEYS: keys });
    expect(prod.routing.routingHeaders).to.equal(false);
    expect(Object.keys(prod.encryption.keys)).to.deep.equal(['k1']); // env keys replace the dev key
    // production samples new traces; development and tests record every one
    expect(prod.telemetry.traceSampleRatio).to.be.within(0.001, 0.5);
    expect(loadConfig({ NODE_ENV: 'development' }).telemetry.traceSampleRatio).to.equal(1);
    expect(loadConfig({ NODE_ENV: 'test' }).telemetry.traceSampleRatio).to.equal(1);
  });

  it('refuses the development encryption key in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', GATEWAY_CONFIG: topology, GATEWAY_ADMIN_TOKEN: STRONG_TOKEN })).to.throw(ConfigError, /encryption/);
  });

  it('never shows secrets in its printable form', () => {
    const config = loadConfig({ NODE_ENV: 'test', GATEWAY_CONFIG: topology, GATEWAY_ADMIN_TOKEN: 'super-secret-token-value-Zk3pQ9wLx7Rv' });
    const text = JSON.stringify(describeConfig(config));
    expect(text).not.to.include(config.encryption.keys.dev!);
    expect(text).not.to.include('secret');
  });

  it('expands ${env:NAME} in the catalog URL, keeps it in shard URLs (the catalog stores the reference), and names a missing one', () => {
    const file = path.join(dir, 'env-refs.json');
    writeFileSync(
      file,
      JSON.stringify({
        catalog: 'postgres://cat:${env:CATALOG_PW}@127.0.0.1:1/c',
        shards: [
          {
            id: 'shard-1',
            primary: 'postgres://app:${env:SHARD_1_PW}@127.0.0.1:3/s',
            replicas: [{ name: 'ro', url: 'postgres://app:${env:SHARD_1_PW}@127.0.0.1:4/s' }],
            admin: { primary: 'postgres://owner:${env:SHARD_1_OWNER_PW}@127.0.0.1:3/s' },
          },
        ],
      }),
    );
    const env = { NODE_ENV: 'test', GATEWAY_CONFIG: file, CATALOG_PW: 'c@t/pw', SHARD_1_PW: 'a:b', SHARD_1_OWNER_PW: 'own' };
    const config = loadConfig(env);
    expect(new URL(config.catalog!).password).to.equal(encodeURIComponent('c@t/pw'));
    expect(config.shards[0]!.primary).to.equal('postgres://app:${env:SHARD_1_PW}@127.0.0.1:3/s');
    expect(config.shards[0]!.admin!.primary).to.equal('postgres://owner:${env:SHARD_1_OWNER_PW}@127.0.0.1:3/s');
    const revealed = new ShardSecrets({ k1: Buffer.alloc(32, 7).toString('base64') }, 'k1', env).reveal(config.shards[0]!);
    expect(decodeURIComponent(new URL(revealed.primary).password)).to.equal('a:b');
    expect(revealed.admin!.primary).to.equal('postgres://owner:own@127.0.0.1:3/s');
    expect(JSON.stringify(describeConfig(config))).not.to.match(/own@|a%3Ab|c%40t/);
    expect(() => loadConfig({ ...env, SHARD_1_OWNER_PW: undefined })).to.throw(ConfigError, /shards\[0\]\.admin\.primary: \$\{env:SHARD_1_OWNER_PW\}/);
  });

  it('merges objects deeply and replaces arrays', () => {
    expect(deepMerge({ a: { b: 1, c: 2 }, l: [1, 2] }, { a: { c: 3 }, l: [9] })).to.deep.equal({ a: { b: 1, c: 3 }, l: [9] });
  });
});
