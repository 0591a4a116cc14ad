import express, { type Router } from 'express';
import { z } from 'zod';
import type { TenantRow } from '../../../catalog/catalog-rows.js';
import type { TenantStore } from '../../../catalog/tenant-store.js';
import type { PlacementService } from '../../../placement/placement-service.js';
import type { TenantAuthenticator } from '../../../tenancy/tenant-authenticator.js';
import type { TransferCoordinator } from '../../../transactions/transfer-coordinator.js';
import { generateApiKey, generateKeyId, hashApiKey } from '../../../tenancy/api-keys.js';
import { uuidv7 } from '../../../models/index.js';
import { ConflictError, NotFoundError } from '../../../errors/errors.js';
import { parseInput, safeString } from '../../input/validation.js';
import { TENANT_ID_PATTERN, tenantParam } from '../../input/record-params.js';

const createInput = z.strictObject({
  name: safeString(1, 200),
  id: safeString(1, 128).regex(TENANT_ID_PATTERN, 'must start with a letter or digit and hold only letters, digits, "_", ".", ":" and "-"').optional(),
});

const patchInput = z.strictObject({
  status: z.enum(['active', 'suspended'], { error: 'must be "active" or "suspended"' }),
});

export interface AdminTenantsDeps {
  readonly tenants: TenantStore;
  readonly placement: PlacementService;
  readonly authenticator: TenantAuthenticator;
  /** told after a status change so other gateways drop their cached tenant */
  readonly onTenantChanged?: (id: string) => void;
  /** DELETE /admin/tenants/:id: the erase saga (its id is the job id) */
  readonly eraser: Pick<TransferCoordinator, 'erase'>;
}

export function adminTenantsRoutes(deps: AdminTenantsDeps): Router {
  const router = express.Router();

  const view = (tenant: TenantRow) => {
    const placement = deps.placement.table.shardFor(tenant.id);
    return { id: tenant.id, name: tenant.name, status: tenant.status, shard: placement.shardId, pinned: placement.pinned };
  };

  /** The view with where the tenant lived when, oldest first (a restore as of a past moment needs the shard of then). */
  const detail = async (tenant: TenantRow) => ({ ...view(tenant), placements: await deps.tenants.placementHistory(tenant.id) });

  const load = async (id: string): Promise<TenantRow> => {
    const tenant = await deps.tenants.get(id);
    if (!tenant) throw new NotFoundError('tenant', id);
    return tenant;
  };

  router.post('/', async (req, res) => {
    const input = parseInput(createInput, req.body);
    const apiKey = generateApiKey();
    const keyId = generateKeyId();
    // the shard the catalog recorded the tenant on, not this gateway's cached ring: they differ only while a job changes the ring
    const { tenant, shard } = await deps.tenants.create({ id: input.id ?? uuidv7(), name: input.name, keyId, apiKeyHash: hashApiKey(apiKey) });
    res.setHeader('Location', `${req.baseUrl}/${encodeURIComponent(tenant.id)}`);
    // the key is shown here, once; only its hash is stored
    res.status(201).json({ id: tenant.id, name: tenant.name, shard, apiKey, keyId });
  });

  router.get('/:id', async (req, res) => {
    res.json(await detail(await load(tenantParam(req))));
  });

  router.patch('/:id', async (req, res) => {
    const id = tenantParam(req);
    await load(id);
    const input = parseInput(patchInput, req.body);
    const tenant = await deps.tenants.setStatus(id, input.status);
    if (!tenant) throw new ConflictError(`tenant ${id} is being erased, or was: its status no longer changes`, 'status');
    deps.authenticator.invalidate(id);
    deps.onTenantChanged?.(id);
    res.json(view(tenant));
  });

  router.delete('/:id', async (req, res) => {
    const id = tenantParam(req);
    await load(id);
    const erase = await deps.eraser.erase(id);
    res.status(202).json({ jobId: erase.id });
  });

  return router;
}
