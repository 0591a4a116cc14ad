import { expect } from 'chai';
import { Ring } from '../../src/placement/ring.js';
import { PlacementTable } from '../../src/placement/placement-table.js';
import { GatewayError } from '../../src/errors/errors.js';
import { PlacementService } from '../../src/placement/placement-service.js';
import type { PinRow, ShardRow } from '../../src/catalog/catalog-rows.js';
import { ringFingerprint } from '../../src/catalog/pin-store.js';
import { pino } from 'pino';

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

describe('PlacementService.placed (a move\'s flip, announced)', () => {
  const shard = (id: string, state: ShardRow['state'] = 'active', weight = 100) => ({ id, state, weight }) as ShardRow;
  /** a catalog whose rows the test sets; each read answers what is there now */
  function catalog(version: bigint, pins: PinRow[] = []) {
    const state = { version, pins, shards: [shard('shard-1'), shard('shard-2')] };
    return {
      state,
      catalog: {
        version: async () => state.version,
        shards: { list: async () => state.shards },
        pins: { list: async () => state.pins },
      } as unknown as ConstructorParameters<typeof PlacementService>[0],
    };
  }
  const elsewhere = (service: PlacementService, tenant: string) => (service.table.shardFor(tenant).shardId === 'shard-1' ? 'shard-2' : 'shard-1');

  it('routes the tenant at once and wakes the writes waiting for it, before any reload', async () => {
    const { catalog: c } = catalog(5n);
    const service = new PlacementService(c, { refreshIntervalMs: 60_000 }, pino({ level: 'silent' }));
    await service.reload();
    const target = elsewhere(service, 'acme');
    const woken = service.nextReload();
    service.placed(6n, new Map([['acme', target]]));
    await woken;
    expect(service.table.shardFor('acme').shardId).to.equal(target);
    expect(service.table.version, 'the table still says what it loaded: a refresh reloads').to.equal(5n);
  });

  it('keeps the announced placement over a reload that read the catalog before the flip, and drops it once a reload has caught up', async () => {
    const { catalog: c, state } = catalog(5n);
    const service = new PlacementService(c, { refreshIntervalMs: 60_000 }, pino({ level: 'silent' }));
    await service.reload();
    const target = elsewhere(service, 'acme');
    service.placed(6n, new Map([['acme', target]]));
    await service.reload(); // still version 5: it raced the flip
    expect(service.table.shardFor('acme').shardId).to.equal(target);
    // the catalog at 7: the tenant pinned back where the ring had it (a later move), which the table now knows better
    state.version = 7n;
    state.pins = [{ tenantId: 'acme', shardId: elsewhere(service, 'acme'), reason: 'move:2' }];
    await service.reload();
    expect(service.table.shardFor('acme').shardId).to.equal(state.pins[0]!.shardId);
    // an announcement older than the table changes nothing
    service.placed(6n, new Map([['acme', target]]));
    expect(service.table.shardFor('acme').shardId).to.equal(state.pins[0]!.shardId);
  });

  it('leaves the write lease alone: only the catalog confirms a placement current', async () => {
    const { catalog: c } = catalog(1n);
    const service = new PlacementService(c, { refreshIntervalMs: 60_000 }, pino({ level: 'silent' }));
    service.placed(2n, new Map([['acme', 'shard-2']]));
    expect(service.staleForMs()).to.equal(Number.POSITIVE_INFINITY);
  });
});

describe('ringFingerprint (what a move\'s flip checks the active shards against)', () => {
  it('names the active shards with their weights in code-point order, whatever the order they were listed in', () => {
    const shards = [
      { id: 'shard-b', weight: 50, state: 'active' },
      { id: 'shard-A', weight: 100, state: 'active' },
      { id: 'shard-c', weight: 100, state: 'standby' },
    ] as const;
    expect(ringFingerprint(shards)).to.equal('shard-A@100,shard-b@50');
    expect(ringFingerprint([])).to.equal('');
  });
});
