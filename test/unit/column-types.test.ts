import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { Keyring } from '../../src/models/types/keyring.js';
import { jsonbProblem } from '../../src/models/types/exact-jsonb.js';

const key = () => randomBytes(32).toString('base64');

describe('Keyring (AES-256-GCM with key ids)', () => {
  it('round-trips and never repeats a ciphertext', () => {
    const ring = new Keyring({ k1: key() }, 'k1');
    const a = ring.encrypt('DE123456789');
    const b = ring.encrypt('DE123456789');
    expect(a).to.not.equal(b);
    expect(a).to.not.include('DE123456789');
    expect(ring.decrypt(a)).to.equal('DE123456789');
    expect(Keyring.keyIdOf(a)).to.equal('k1');
  });

  it('keeps old values readable after a rotation', () => {
    const k1 = key();
    const old = new Keyring({ k1 }, 'k1').encrypt('secret');
    const rotated = new Keyring({ k1, k2: key() }, 'k2');
    expect(rotated.decrypt(old)).to.equal('secret');
    expect(Keyring.keyIdOf(rotated.encrypt('x'))).to.equal('k2');
    expect(() => new Keyring({ k2: key() }, 'k2').decrypt(old)).to.throw(/k1/);
  });

  it('detects tampering', () => {
    const ring = new Keyring({ k1: key() }, 'k1');
    const parts = ring.encrypt('secret').split(':');
    parts[4] = Buffer.from('tampered').toString('base64url');
    expect(() => ring.decrypt(parts.join(':'))).to.throw();
  });

  it('refuses a truncated authentication tag (GCM would accept one as short as 4 bytes)', () => {
    const ring = new Keyring({ k1: key() }, 'k1');
    const parts = ring.encrypt('secret').split(':');
    const short = Buffer.from(parts[3]!, 'base64url').subarray(0, 4).toString('base64url');
    expect(() => ring.decrypt([...parts.slice(0, 3), short, parts[4]].join(':'))).to.throw(/16 bytes/);
  });

  it('refuses bad keys and never prints them', () => {
    expect(() => new Keyring({ k1: 'short' }, 'k1')).to.throw(/32 bytes/);
    expect(() => new Keyring({ k1: key() }, 'k2')).to.throw(/k2/);
    const secret = key();
    const ring = new Keyring({ k1: secret }, 'k1');
    expect(JSON.stringify({ ring })).to.not.include(secret);
    expect(Object.keys(ring)).to.not.include('keys');
  });
});

describe('exact jsonb', () => {
  it('accepts plain JSON', () => {
    expect(jsonbProblem({ a: [1, 'x', null, { b: true }], c: 0.1, d: {} })).to.equal(undefined);
  });

  it('refuses what would not round-trip, naming where', () => {
    expect(jsonbProblem({ a: new Date() })).to.match(/\$\.a.*Date/);
    expect(jsonbProblem({ a: undefined })).to.match(/\$\.a/);
    expect(jsonbProblem({ a: [1, Number.NaN] })).to.match(/\$\.a\[1\]/);
    expect(jsonbProblem({ big: 2 ** 60 })).to.match(/2\^53/);
    expect(jsonbProblem({ s: 'a\u0000b' })).to.match(/NUL/);
  });
});
