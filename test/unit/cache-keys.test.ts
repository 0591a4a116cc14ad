import { expect } from 'chai';
import fc from 'fast-check';
import { cacheKeys, decodeKeyPart, encodeKeyPart } from '../../src/cache/cache-keys.js';
import { decodeInvalidation, encodeInvalidation } from '../../src/cache/invalidation-message.js';

describe('cacheKeys', () => {
  it('puts a version and the tenant in front of every key', () => {
    expect(cacheKeys.product('acme', '0190-abc')).to.equal('sg:v1:t:acme:product:0190-abc');
    expect(cacheKeys.tenantPrefix('acme')).to.equal('sg:v1:t:acme:');
    expect(cacheKeys.invalidationChannel()).to.equal('sg:v1:invalidate');
  });

  it('keeps tenant ids with separators apart', () => {
    expect(cacheKeys.product('a:b', 'c')).not.to.equal(cacheKeys.product('a', 'b:c'));
    expect(cacheKeys.product('a:t:b', 'x').startsWith(cacheKeys.tenantPrefix('a'))).to.equal(false);
    expect(cacheKeys.product('ab', 'x').startsWith(cacheKeys.tenantPrefix('a'))).to.equal(false);
    expect(cacheKeys.product('t.1-x', 'y')).to.equal('sg:v1:t:t.1-x:product:y');
  });

  it('never lets a glob character into a key (SCAN MATCH patterns stay literal)', () => {
    expect(encodeKeyPart('a*b?[c]\\d{e}%')).to.match(/^[A-Za-z0-9._%-]+$/);
  });

  it('refuses empty parts', () => {
    expect(() => cacheKeys.product('', 'x')).to.throw(RangeError);
    expect(() => cacheKeys.product('acme', '')).to.throw(RangeError);
  });

  it('is unambiguous for any tenant id (property)', () => {
    const part = fc.string({ minLength: 1, maxLength: 12, unit: 'grapheme' });
    fc.assert(
      fc.property(part, part, part, (tenantA, tenantB, id) => {
        expect(decodeKeyPart(encodeKeyPart(tenantA))).to.equal(tenantA);
        const key = cacheKeys.product(tenantA, id);
        expect(cacheKeys.tenantOf(key)).to.equal(tenantA);
        expect(key.startsWith(cacheKeys.tenantPrefix(tenantB))).to.equal(tenantA === tenantB);
      }),
    );
  });
});

describe('invalidation messages', () => {
  it('round-trip with the publishing process id', () => {
    const raw = encodeInvalidation({ kind: 'keys', keys: ['k1', 'k2'] }, 'proc-1');
    expect(decodeInvalidation(raw)).to.deep.equal({ kind: 'keys', keys: ['k1', 'k2'], origin: 'proc-1' });
    expect(decodeInvalidation(encodeInvalidation({ kind: 'tenant', tenantId: 't' }, 'p'))).to.deep.equal({ kind: 'tenant', tenantId: 't', origin: 'p' });
    expect(decodeInvalidation(encodeInvalidation({ kind: 'catalog', version: '7' }, 'p'))).to.deep.equal({ kind: 'catalog', version: '7', origin: 'p' });
    expect(decodeInvalidation(encodeInvalidation({ kind: 'catalog', version: '8', placed: { acme: 'shard-2' } }, 'p'))).to.deep.equal({
      kind: 'catalog', version: '8', placed: { acme: 'shard-2' }, origin: 'p',
    });
    const nonce = '0b5e3c2a-6a53-4bd4-9a49-1f0e1c6f8c11';
    expect(decodeInvalidation(encodeInvalidation({ kind: 'usage-flush', nonce }, 'p'))).to.deep.equal({ kind: 'usage-flush', nonce, origin: 'p' });
  });

  it('ignores anything malformed', () => {
    for (const raw of ['', 'nope', '1', 'null', '{"kind":"keys","keys":"k","origin":"p"}', '{"kind":"keys","keys":[1],"origin":"p"}',
      '{"kind":"tenant","origin":"p"}', '{"kind":"other","origin":"p"}', '{"kind":"keys","keys":[]}',
      '{"kind":"catalog","version":"x1","origin":"p"}', '{"kind":"catalog","version":"1","placed":["shard-2"],"origin":"p"}',
      '{"kind":"catalog","version":"1","placed":{"acme":2},"origin":"p"}', '{"kind":"usage-flush","origin":"p"}',
      '{"kind":"usage-flush","nonce":"x:y","origin":"p"}', `{"kind":"usage-flush","nonce":"${'a'.repeat(65)}","origin":"p"}`]) {
      expect(decodeInvalidation(raw), raw).to.equal(undefined);
    }
  });
});
