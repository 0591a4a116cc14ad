import { expect } from 'chai';
import { Ring } from '../../src/placement/ring.js';
import { PlacementTable } from '../../src/placement/placement-table.js';
import { GatewayError } from '../../src/errors/errors.js';

describe('PlacementTable', () => {
  const ring = new Ring([{ shardId: 'shard-1', weight: 100 }, { shardId: 'shard-2', weight: 100 }]);

  it('follows the ring for unpinned tenants', () => {
    const table = new PlacementTable(ring, new Map(), 1n);
    expect(table.shardFor('acme')).to.deep.equal({ shardId: ring.get('acme'), pinned: false });
  });

  it('lets a pin override the ring, even to a shard outside it', () => {
    const table = new PlacementTable(ring, new Map([['acme', 'shard-9']]), 1n);
    expect(table.shardFor('acme')).to.deep.equal({ shardId: 'shard-9', pinned: true });
    expect(table.shardFor('other').pinned).to.equal(false);
  });

  it('fails with a typed error when the ring is empty and there is no pin', () => {
    const table = new PlacementTable(new Ring([]), new Map(), 1n);
    expect(() => table.shardFor('acme')).to.throw(GatewayError).with.property('code', 'SHARD_UNAVAILABLE');
  });
});
