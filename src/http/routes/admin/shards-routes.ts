import express, { type Router } from 'express';
import type { TenantStore } from '../../../catalog/tenant-store.js';
import type { PlacementService } from '../../../placement/placement-service.js';
import type { ShardRegistry } from '../../../cluster/shard-registry.js';
import type { ShardNode } from '../../../cluster/shard-node.js';

export interface AdminShardsDeps {
  readonly tenants: TenantStore;
  readonly placement: PlacementService;
  readonly registry: ShardRegistry;
}

function nodeView(node: ShardNode) {
  const h = node.health;
  return {
    name: node.name,
    healthy: h.healthy,
    lagMs: h.lagMs,
    lagSeconds: h.lagMs / 1000,
    lagBytes: h.lagBytes,
    pool: node.poolStats(),
    lsn: h.lsn === undefined ? null : h.lsn.toString(),
    checkedAt: h.checkedAt === 0 ? null : new Date(h.checkedAt).toISOString(),
    error: h.error ?? null,
  };
}

/** Topology views: shards with node health and lag, and the ring with its pins. */
export function adminShardsRoutes(deps: AdminShardsDeps): Router {
  const router = express.Router();

  router.get('/shards', async (_req, res) => {
    const counts = await deps.tenants.countsByShard();
    res.json(
      deps.placement.shards.map((s) => {
        const shard = deps.registry.has(s.id) ? deps.registry.get(s.id) : undefined;
        return {
          id: s.id,
          state: s.state,
          weight: s.weight,
          tenants: counts.get(s.id) ?? 0,
          primary: shard
            ? { healthy: shard.primary.health.healthy, error: shard.primary.health.error ?? null, pool: shard.primary.poolStats() }
            : { healthy: false, error: 'not connected' },
          replicas: shard ? shard.replicas.map(nodeView) : [],
        };
      }),
    );
  });

  router.get('/ring', (_req, res) => {
    const table = deps.placement.table;
    res.json({
      version: table.version.toString(),
      members: table.ring.members.map((m) => ({ shard: m.shardId, weight: m.weight })),
      pins: [...table.pins].map(([tenant, shard]) => ({ tenant, shard })),
    });
  });

  return router;
}
