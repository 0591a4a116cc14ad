import { expect } from 'chai';
import { TtlCache } from '../../src/cache/ttl-cache.js';

describe('TtlCache', () => {
  it('evicts the least recently used entry beyond its entry bound', () => {
    const cache = new TtlCache<string, number>(2);
    cache.set('a', 1, 1000);
    cache.set('b', 2, 1000);
    expect(cache.get('a')).to.equal(1); // a is now the most recent
    cache.set('c', 3, 1000);
    expect([cache.get('a'), cache.get('b'), cache.get('c')]).to.deep.equal([1, undefined, 3]);
  });

  it('weighs entries: evicts by bytes, refuses one heavier than the entry bound, keeps the sum exact', () => {
    const cache = new TtlCache<string, string>(1000, Date.now, { maxBytes: 100, maxEntryBytes: 60, sizeOf: (v) => v.length });
    expect(cache.set('big', 'x'.repeat(61), 1000)).to.equal(false);
    expect(cache.size).to.equal(0);
    cache.set('a', 'x'.repeat(40), 1000);
    cache.set('b', 'x'.repeat(40), 1000);
    expect(cache.bytes).to.equal(80);
    cache.set('c', 'x'.repeat(40), 1000);
    expect(cache.get('a')).to.equal(undefined);
    expect(cache.bytes).to.equal(80);
    // replacing a value re-weighs it; an oversized replacement drops the old copy too
    cache.set('b', 'x'.repeat(10), 1000);
    expect(cache.bytes).to.equal(50);
    expect(cache.set('c', 'x'.repeat(70), 1000)).to.equal(false);
    expect([cache.get('c'), cache.bytes]).to.deep.equal([undefined, 10]);
    cache.deleteWhere(() => true);
    expect([cache.size, cache.bytes]).to.deep.equal([0, 0]);
  });

  it('sweeps expired entries as it is written to, without being read', () => {
    let now = 0;
    const cache = new TtlCache<string, string>(100_000, () => now, { maxBytes: 1e9, maxEntryBytes: 1e9, sizeOf: (v) => v.length });
    for (let i = 0; i < 100; i++) cache.set(`old${i}`, 'x', 10);
    now = 20; // all of them expired, none read again
    for (let i = 0; i < 300; i++) cache.set(`new${i}`, 'y', 1000);
    // the 256th set swept the 100 expired entries: only the 300 live ones remain
    expect(cache.size).to.equal(300);
    expect(cache.bytes).to.equal(300);
  });
});
