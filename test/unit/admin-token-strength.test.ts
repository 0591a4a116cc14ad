import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { adminTokenWeakness } from '../../src/config/admin-token-strength.js';
import { ConfigError, loadConfig } from '../../src/config/load-config.js';

describe('admin token strength', () => {
  it('accepts random tokens of every usual encoding, and the test suites\' constant', () => {
    for (let i = 0; i < 200; i++) {
      expect(adminTokenWeakness(randomBytes(24).toString('base64url'))).to.equal(undefined); // what main.ts generates
      expect(adminTokenWeakness(randomBytes(32).toString('base64'))).to.equal(undefined);
      expect(adminTokenWeakness(randomBytes(16).toString('hex'))).to.equal(undefined);
    }
    expect(adminTokenWeakness('sg-test-admin-Vq7RkX2pLw9nZc4hTj8yFb3d')).to.equal(undefined);
  });

  it('accepts random hex with more than half its neighbours adjacent (about one in 80,000 is)', () => {
    // 17 of 31 neighbouring pairs equal or one apart, as `openssl rand -hex 16` sometimes gives
    const token = '43665cb6dcdfaac3245456433fcb210b';
    expect(adminTokenWeakness(token)).to.equal(undefined);
  });

  it('refuses short tokens, saying how long they must be', () => {
    expect(adminTokenWeakness('Vq7RkX2pLw9nZc4hTj8yFb3dGs6mQe')).to.match(/at least 32 characters \(it has 30\)/);
    expect(adminTokenWeakness('')).to.match(/at least 32/);
  });

  it('refuses long tokens with little in them', () => {
    expect(adminTokenWeakness('x'.repeat(64))).to.match(/pattern/);
    expect(adminTokenWeakness('changeme'.repeat(5))).to.match(/pattern/);
    expect(adminTokenWeakness('Passw0rd!'.repeat(4))).to.match(/pattern/);
    expect(adminTokenWeakness('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaabbbbbbbbbbbbbbbcc')).to.match(/distinct characters/);
    expect(adminTokenWeakness('abcdefghijklmnopqrstuvwxyz0123456789')).to.match(/neighbouring characters/);
    expect(adminTokenWeakness('0123456789876543210123456789876543210')).to.match(/neighbouring|pattern/);
  });

  describe('at config load', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sg-token-'));
    const topology = path.join(dir, 'gateway.json');
    writeFileSync(topology, JSON.stringify({ catalog: 'postgres://u@127.0.0.1:1/c', shards: [{ id: 'shard-1', primary: 'postgres://u@127.0.0.1:3/s' }] }));
    const keys = `k1:${Buffer.alloc(32, 7).toString('base64')}`;

    it('refuses a weak GATEWAY_ADMIN_TOKEN in every mode, naming the field', () => {
      for (const NODE_ENV of ['production', 'development', 'test']) {
        for (const token of ['short-token', 'x'.repeat(40)]) {
          expect(() => loadConfig({ NODE_ENV, GATEWAY_CONFIG: topology, GATEWAY_ADMIN_TOKEN: token, SHARDGATE_ENCRYPTION_KEYS: keys }), `${NODE_ENV} ${token}`)
            .to.throw(ConfigError, /adminToken: GATEWAY_ADMIN_TOKEN (must be at least 32|repeats)/);
        }
      }
      // a token from a config file is checked the same way
      const file = path.join(dir, 'weak.json');
      writeFileSync(file, JSON.stringify({ adminToken: 'admin-admin-admin-admin-admin-admin' }));
      expect(() => loadConfig({ NODE_ENV: 'development', GATEWAY_CONFIG: file })).to.throw(ConfigError, /adminToken/);
    });

    it('leaves an unset token to the embedded default, which generates a random one', () => {
      expect(loadConfig({ NODE_ENV: 'development' }).adminToken).to.equal(undefined);
    });
  });
});
