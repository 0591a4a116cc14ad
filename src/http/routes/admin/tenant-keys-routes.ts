import express, { type Router } from 'express';
import type { TenantStore } from '../../../catalog/tenant-store.js';
import type { ApiKeyStore } from '../../../catalog/api-key-store.js';
import type { ApiKeyRow } from '../../../catalog/catalog-rows.js';
import type { TenantAuthenticator } from '../../../tenancy/tenant-authenticator.js';
import { generateApiKey, generateKeyId, hashApiKey, KEY_ID_PATTERN } from '../../../tenancy/api-keys.js';
import { NotFoundError } from '../../../errors/errors.js';
import { tenantParam } from '../../input/record-params.js';

export interface AdminTenantKeysDeps {
  readonly tenants: TenantStore;
  readonly apiKeys: ApiKeyStore;
  readonly authenticator: TenantAuthenticator;
  /** told after a revocation, so every other gateway drops the tenant's cached keys at once */
  readonly onKeyRevoked?: (tenantId: string) => void;
}

const view = (key: ApiKeyRow) => ({
  keyId: key.keyId,
  createdAt: key.createdAt.toISOString(),
  ...(key.lastUsedAt ? { lastUsedAt: key.lastUsedAt.toISOString() } : {}),
  ...(key.revokedAt ? { revokedAt: key.revokedAt.toISOString() } : {}),
});

/**
 * /admin/tenants/:id/keys: a tenant may hold several keys, so a key is rotated by making a
 * new one, moving clients over, and revoking the old one. The key itself is shown once,
 * in the 201; only its SHA-256 is stored. A revocation takes effect on this gateway at
 * once, on the others through the broadcast (or their keys-version watch, within a second).
 */
export function adminTenantKeysRoutes(deps: AdminTenantKeysDeps): Router {
  const router = express.Router();

  const tenantOf = async (id: string) => {
    if ((await deps.tenants.get(id)) === undefined) throw new NotFoundError('tenant', id);
    return id;
  };

  router.post('/tenants/:id/keys', async (req, res) => {
    const tenantId = await tenantOf(tenantParam(req));
    const apiKey = generateApiKey();
    const key = await deps.apiKeys.create(tenantId, generateKeyId(), hashApiKey(apiKey));
    res.setHeader('Location', `${req.baseUrl}/tenants/${encodeURIComponent(tenantId)}/keys/${key.keyId}`);
    res.status(201).json({ keyId: key.keyId, apiKey, createdAt: key.createdAt.toISOString() });
  });

  router.get('/tenants/:id/keys', async (req, res) => {
    const tenantId = await tenantOf(tenantParam(req));
    res.json((await deps.apiKeys.list(tenantId)).map(view));
  });

  router.delete('/tenants/:id/keys/:keyId', async (req, res) => {
    const tenantId = await tenantOf(tenantParam(req));
    const keyId = String(req.params.keyId);
    const revoked = KEY_ID_PATTERN.test(keyId) ? await deps.apiKeys.revoke(tenantId, keyId) : undefined;
    if (revoked === undefined) throw new NotFoundError('key', keyId);
    deps.authenticator.invalidate(tenantId);
    deps.onKeyRevoked?.(tenantId);
    res.status(204).end();
  });

  return router;
}
