import express, { type Router } from 'express';
import type { PartnershipStore } from '../../../catalog/partnership-store.js';
import { NotFoundError } from '../../../errors/errors.js';
import { partnershipInput } from '../../input/transfer-input.js';
import { parseInput } from '../../input/validation.js';

export interface AdminPartnershipsDeps {
  readonly partnerships: PartnershipStore;
}

/** /admin/partnerships: which tenant may buy from which (POST /v1/transfers checks it). */
export function adminPartnershipsRoutes(deps: AdminPartnershipsDeps): Router {
  const router = express.Router();
  router.post('/partnerships', async (req, res) => {
    const { supplier, buyer } = parseInput(partnershipInput, req.body);
    res.status(201).json(await deps.partnerships.create(supplier, buyer));
  });
  router.delete('/partnerships', async (req, res) => {
    const { supplier, buyer } = parseInput(partnershipInput, req.body);
    if (!(await deps.partnerships.delete(supplier, buyer))) throw new NotFoundError('partnership', `${supplier} → ${buyer}`);
    res.status(204).end();
  });
  router.get('/partnerships', async (_req, res) => {
    res.json({ items: await deps.partnerships.list() });
  });
  return router;
}
