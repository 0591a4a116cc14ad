import express, { type Router } from 'express';
import type { ProductBatches } from '../../../data/products/product-batches.js';
import { parseInput } from '../../input/validation.js';
import { batchCreate, batchDelete, batchUpdate } from '../../input/product-batch-input.js';
import { sessionOf } from '../../middleware/tenant-context.js';

export interface ProductBatchRoutesDeps {
  readonly batches: ProductBatches;
  /** most items one batch may carry */
  readonly batchMax: number;
}

/**
 * /v1/products/batch: set-based create/upsert, update and delete, each atomic. Mounted
 * before the single-record routes, so "batch" is never taken for an :id.
 */
export function productBatchRoutes(deps: ProductBatchRoutesDeps): Router {
  const { batches, batchMax } = deps;
  const router = express.Router();

  router.post('/', async (req, res) => {
    const input = parseInput(batchCreate(batchMax), req.body);
    res.status(200).json(await batches.createOrUpsert(sessionOf(res), input.items, input.upsert ?? false));
  });

  router.patch('/', async (req, res) => {
    const input = parseInput(batchUpdate(batchMax), req.body);
    res.json(await batches.update(sessionOf(res), input.ids, input.set));
  });

  router.delete('/', async (req, res) => {
    const input = parseInput(batchDelete(batchMax), req.body);
    res.json(await batches.remove(sessionOf(res), input.ids));
  });

  return router;
}
