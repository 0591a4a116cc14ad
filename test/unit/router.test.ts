import { expect } from 'chai';
import { ShardRouter } from '../../src/cluster/shard-router.js';
import { Shard } from '../../src/cluster/shard.js';
import type { ShardNode, NodeHealth } from '../../src/cluster/shard-node.js';

function node(name: string, role: 'primary' | 'replica', health: Partial<NodeHealth>): ShardNode {
  return {
    shardId: 's1',
    name,
    role,
    health: { healthy: true, lsn: 1000n, lagBytes: 0, lagMs: 0, checkedAt: 1, error: undefined, ...health },
  } as ShardNode;
}

describe('ShardRouter', () => {
  const router = new ShardRouter({ maxReplicaLagMs: 500, maxReplicaLagBytes: 1_000_000 });

  it('sends writes and strong reads to the primary', () => {
    const shard = new Shard('s1', node('primary', 'primary', {}), [node('r1', 'replica', {})]);
    expect(router.route(shard, { kind: 'write' })).to.include({ role: 'primary', reason: 'write' });
    expect(router.route(shard, { kind: 'read', strong: true })).to.include({ role: 'primary', reason: 'strong' });
  });

  it('sends reads to a healthy replica within the lag bound', () => {
    const shard = new Shard('s1', node('primary', 'primary', {}), [node('r1', 'replica', { lagMs: 100 })]);
    const d = router.route(shard, { kind: 'read' });
    expect(d).to.include({ role: 'replica', reason: 'lag_ok' });
    expect(d.node.name).to.equal('r1');
  });

  it('skips replicas that are unhealthy or past the lag bound', () => {
    const shard = new Shard('s1', node('primary', 'primary', {}), [
      node('down', 'replica', { healthy: false }),
      node('slow', 'replica', { lagMs: 501 }),
      node('far', 'replica', { lagBytes: 2_000_000 }),
    ]);
    expect(router.route(shard, { kind: 'read' })).to.include({ role: 'primary', reason: 'no_healthy_replica' });
  });

  it('spreads reads across eligible replicas', () => {
    const shard = new Shard('s1', node('primary', 'primary', {}), [node('r1', 'replica', {}), node('r2', 'replica', {})]);
    const names = new Set(Array.from({ length: 4 }, () => router.route(shard, { kind: 'read' }).node.name));
    expect([...names].sort()).to.deep.equal(['r1', 'r2']);
  });

  it('honours a consistency token: replica only once it has replayed past it', () => {
    const shard = new Shard('s1', node('primary', 'primary', {}), [node('behind', 'replica', { lsn: 900n }), node('ahead', 'replica', { lsn: 1200n })]);
    for (let i = 0; i < 4; i++) {
      const d = router.route(shard, { kind: 'read', token: { shardId: 's1', lsn: 1000n } });
      expect(d).to.include({ role: 'replica', reason: 'token_ok' });
      expect(d.node.name).to.equal('ahead');
    }
    expect(router.route(shard, { kind: 'read', token: { shardId: 's1', lsn: 5000n } })).to.include({ role: 'primary', reason: 'token_wait' });
  });

  it('sends a token from another shard to the primary', () => {
    const shard = new Shard('s1', node('primary', 'primary', {}), [node('r1', 'replica', { lsn: 10_000n })]);
    expect(router.route(shard, { kind: 'read', token: { shardId: 'other', lsn: 1n } })).to.include({ role: 'primary', reason: 'token_shard_changed' });
  });
});
