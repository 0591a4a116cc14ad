import { expect } from 'chai';
import HashRing from 'hashring';
import { Ring } from '../../src/placement/ring.js';

const tenants = Array.from({ length: 20_000 }, (_, i) => `tenant-${i}`);
const equal = (n: number) => Array.from({ length: n }, (_, i) => ({ shardId: `shard-${i + 1}`, weight: 100 }));

describe('Ring', () => {
  it('spreads tenants over every member', () => {
    const ring = new Ring(equal(3));
    const counts = new Map<string, number>();
    for (const t of tenants) counts.set(ring.get(t)!, (counts.get(ring.get(t)!) ?? 0) + 1);
    expect([...counts.keys()].sort()).to.deep.equal(['shard-1', 'shard-2', 'shard-3']);
    for (const n of counts.values()) expect(n).to.be.within(tenants.length * 0.22, tenants.length * 0.45);
  });

  it('is deterministic across instances and member order', () => {
    const a = new Ring(equal(3));
    const b = new Ring([...equal(3)].reverse());
    for (const t of tenants.slice(0, 1000)) expect(a.get(t)).to.equal(b.get(t));
  });

  it('adding an equal shard moves about a quarter of tenants, all to the new shard', () => {
    const before = new Ring(equal(3));
    const after = new Ring(equal(4));
    let moved = 0;
    for (const t of tenants) {
      const from = before.get(t);
      const to = after.get(t);
      if (from !== to) {
        moved++;
        expect(to).to.equal('shard-4');
      }
    }
    expect(moved / tenants.length).to.be.within(0.15, 0.35);
  });

  it('adding a shard with a different weight still moves nothing between existing shards', () => {
    const before = new Ring([{ shardId: 'a', weight: 100 }, { shardId: 'b', weight: 150 }]);
    const after = new Ring([{ shardId: 'a', weight: 100 }, { shardId: 'b', weight: 150 }, { shardId: 'c', weight: 50 }]);
    for (const t of tenants) {
      const to = after.get(t);
      if (before.get(t) !== to) expect(to).to.equal('c');
    }
  });

  it('gives a heavier member proportionally more tenants', () => {
    const ring = new Ring([{ shardId: 'small', weight: 100 }, { shardId: 'big', weight: 300 }]);
    const big = tenants.filter((t) => ring.get(t) === 'big').length;
    expect(big / tenants.length).to.be.within(0.65, 0.85);
  });

  it('places every key exactly where hashring’s own md5 ring does (the ketama points never change)', () => {
    const ring = new Ring(equal(3));
    const reference = new HashRing({ 'shard-1': { vnodes: 40 }, 'shard-2': { vnodes: 40 }, 'shard-3': { vnodes: 40 } }, 'md5', { 'vnode count': 40, replicas: 4 });
    for (const t of tenants) expect(ring.get(t)).to.equal(reference.get(t));
  });

  it('answers undefined on an empty ring', () => {
    expect(new Ring([]).get('anyone')).to.equal(undefined);
  });
});
