import express, { type Router } from 'express';
import { z } from 'zod';
import type { ShardProvisioner } from '../../../rebalance/topology/shard-provisioner.js';
import { replicaName } from '../../../cluster/shard-registry.js';
import { parseInput } from '../../input/validation.js';

const postgresUrl = z
  .string({ error: 'must be a postgres:// URL' })
  .max(2000, 'must be at most 2000 characters')
  .refine((v) => /^postgres(ql)?:\/\//.test(v) && URL.canParse(v), 'must be a postgres:// URL');

const replicas = z.array(z.union([postgresUrl, z.strictObject({ name: z.string().min(1).max(100), url: postgresUrl })])).max(16).default([]);

const addInput = z.strictObject({
  id: z.string({ error: 'must be a string' }).regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and dashes (at most 63)'),
  /** the request role's URLs */
  primary: postgresUrl,
  replicas,
  weight: z.number().int('must be a whole number').min(1).max(10_000).default(100),
  /** the same nodes as the privileged role (moves, migrations, export/import) */
  admin: z.strictObject({ primary: postgresUrl, replicas }).optional(),
});

export interface AdminShardAddDeps {
  readonly shardProvisioner: ShardProvisioner;
}

/** POST /admin/shards: a new shard joins the topology as standby (no tenants until a rebalance). */
export function adminShardAddRoutes(deps: AdminShardAddDeps): Router {
  const router = express.Router();
  router.post('/shards', async (req, res) => {
    const input = parseInput(addInput, req.body);
    const row = await deps.shardProvisioner.add(input);
    res.setHeader('Location', `/admin/shards/${encodeURIComponent(row.id)}`);
    // connection strings are not echoed: they may carry credentials
    res.status(201).json({ id: row.id, state: row.state, weight: row.weight, replicas: row.replicas.map(replicaName) });
  });
  return router;
}
