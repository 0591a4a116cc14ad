import { expect } from 'chai';
import type { PinRow, ShardRow } from '../../src/catalog/catalog-rows.js';
import type { PlanInput } from '../../src/catalog/job-rows.js';
import { ringOf } from '../../src/placement/ring.js';
import { planDrain, planRebalance } from '../../src/rebalance/jobs/planner.js';

const shard = (id: string, state: ShardRow['state']): ShardRow => ({ id, primary: `postgres://h/${id}`, replicas: [], weight: 100, state });
const tenants = Array.from({ length: 2000 }, (_, i) => `tenant-${i}`);

function snapshot(shards: ShardRow[], pins: PinRow[] = []): PlanInput {
  return { tenantIds: tenants, shards, pins };
}

describe('move planner', () => {
  const three = [shard('shard-1', 'active'), shard('shard-2', 'active'), shard('shard-3', 'active')];

  it('rebalance onto a standby shard moves about a quarter of the tenants, all to it', () => {
    const plan = planRebalance(snapshot([...three, shard('shard-4', 'standby')]));
    expect(new Set(plan.moves.map((m) => m.to))).to.deep.equal(new Set(['shard-4']));
    expect(plan.moves.length / tenants.length).to.be.within(0.2, 0.3);
  });

  it('leaves operator pins alone and re-plans temporary pins of an unfinished job', () => {
    const base = planRebalance(snapshot([...three, shard('shard-4', 'standby')]));
    const [a, b] = base.moves;
    const pins: PinRow[] = [
      { tenantId: a!.tenant, shardId: a!.from, reason: 'move:job-1' },
      { tenantId: b!.tenant, shardId: b!.from, reason: 'rebalance:job-0' },
    ];
    const plan = planRebalance(snapshot([...three, shard('shard-4', 'standby')], pins));
    expect(plan.moves.map((m) => m.tenant)).to.not.include(a!.tenant);
    expect(plan.moves.map((m) => m.tenant)).to.include(b!.tenant);
  });

  it('drops a temporary pin that already matches the new ring, and re-plans one that does not', () => {
    const four = [...three, shard('shard-4', 'active'), shard('shard-9', 'draining')];
    const home = ringOf(four, ['active', 'standby']).get('tenant-8')!;
    const pins: PinRow[] = [
      { tenantId: 'tenant-7', shardId: 'shard-9', reason: 'drain:job-2' },
      { tenantId: 'tenant-8', shardId: home, reason: 'rebalance:job-3' },
    ];
    const plan = planRebalance(snapshot(four, pins));
    expect(plan.moves.map((m) => m.tenant)).to.deep.equal(['tenant-7']);
    expect(plan.staleTemporaryPins).to.deep.equal(['tenant-8']);
  });

  it('a balanced ring plans nothing', () => {
    expect(planRebalance(snapshot(three)).moves).to.deep.equal([]);
  });

  it('drain moves exactly the tenants on the shard, pinned or not, to the other shards', () => {
    const shards = [...three, shard('shard-4', 'active')];
    const pins: PinRow[] = [{ tenantId: 'tenant-1', shardId: 'shard-4', reason: 'move:job-1' }];
    const plan = planDrain(snapshot(shards, pins), 'shard-4');
    expect(plan.moves.every((m) => m.from === 'shard-4' && m.to !== 'shard-4')).to.equal(true);
    expect(plan.moves.map((m) => m.tenant)).to.include('tenant-1');
    expect(plan.moves.length / tenants.length).to.be.within(0.2, 0.3);
    // draining back is the inverse of the rebalance that filled it
    const filled = planRebalance(snapshot([...three, shard('shard-4', 'standby')])).moves;
    const drained = planDrain(snapshot(shards), 'shard-4').moves;
    expect(drained.map((m) => `${m.tenant}>${m.to}`).sort()).to.deep.equal(filled.map((m) => `${m.tenant}>${m.from}`).sort());
  });
});
