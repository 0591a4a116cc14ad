import express, { type Router } from 'express';
import type { ProductsRepository } from '../../data/products-repository.js';
import type { ProductBatches } from '../../data/product-batches.js';
import { type ProductSortField } from '../../models/index.js';
import { NotFoundError } from '../../errors/errors.js';
import { parseInput } from '../validation.js';
import { sessionOf, tenantOf } from '../tenant-context.js';
import { productCreate, productList, productPatch } from '../schemas/products.js';
import { batchCreate, batchDelete, batchUpdate } from '../schemas/product-batches.js';
import { parseIfMatch, sendRecord, recordId, parseSort } from '../records.js';


export interface ProductRoutesDeps {
  readonly products: ProductsRepository;
  readonly batches: ProductBatches;
  readonly batchMax: number;
  readonly routingHeaders: boolean;
}

export function productsRoutes(deps: ProductRoutesDeps): Router {
  const { products, batches } = deps;
  const router = express.Router();
  const actor = (res: express.Response) => `tenant:${tenantOf(res).id}`;

  // batch routes first, so "batch" is never taken for an :id
  router.post('/batch', async (req, res) => {
    const input = parseInput(batchCreate(deps.batchMax), req.body);
    const session = sessionOf(res);
    const result = await batches.createOrUpsert(session.forWrite().node, session.tenantId, input.items, input.upsert ?? false, actor(res));
    if (result.updated > 0) await products.invalidate(session.tenantId, result.items.map((p) => p.id));
    const token = await session.consistencyToken();
    if (token !== undefined) res.setHeader('X-Consistency-Token', token);
    res.status(200).json(result);
  });

  router.patch('/batch', async (req, res) => {
    const input = parseInput(batchUpdate(deps.batchMax), req.body);
    const session = sessionOf(res);
    const result = await batches.update(session.forWrite().node, session.tenantId, input.ids, input.set, actor(res));
    await products.invalidate(session.tenantId, input.ids);
    const token = await session.consistencyToken();
    if (token !== undefined) res.setHeader('X-Consistency-Token', token);
    res.json(result);
  });

  router.delete('/batch', async (req, res) => {
    const input = parseInput(batchDelete(deps.batchMax), req.body);
    const session = sessionOf(res);
    const result = await batches.remove(session.forWrite().node, session.tenantId, input.ids, actor(res));
    await products.invalidate(session.tenantId, input.ids);
    const token = await session.consistencyToken();
    if (token !== undefined) res.setHeader('X-Consistency-Token', token);
    res.json(result);
  });

  router.post('/', async (req, res) => {
    const input = parseInput(productCreate, req.body);
    const session = sessionOf(res);
    const product = await products.create(session.forWrite().node, session.tenantId, input, actor(res));
    res.setHeader('Location', `${req.baseUrl}/${product.id}`);
    sendRecord(res, 201, product, await session.consistencyToken());
  });

  router.get('/', async (req, res) => {
    const q = parseInput(productList, { ...req.query });
    const sort = parseSort<ProductSortField>(q.sort);
    const session = sessionOf(res);
    // page numbers unless the client asked for keyset paging with a cursor
    const page = q.cursor === undefined ? (q.page ?? 1) : undefined;
    res.json(
      await session.read((node) => products.list(node, session.tenantId, {
        pageSize: q.pageSize,
        page,
        cursor: q.cursor,
        active: q.active,
        categoryId: q.categoryId,
        q: q.q,
        createdFrom: q.createdFrom,
        createdTo: q.createdTo,
        sort,
      })),
    );
  });

  router.get('/:id', async (req, res) => {
    const id = recordId(req, 'product');
    const session = sessionOf(res);
    const { product, cache, servedBy } = await products.get(session, id);
    res.setHeader('X-Cache', cache);
    if (cache === 'hit' && servedBy !== undefined && deps.routingHeaders) res.setHeader('X-Served-By', servedBy);
    if (!product) throw new NotFoundError('product', id);
    sendRecord(res, 200, product);
  });

  router.patch('/:id', async (req, res) => {
    const id = recordId(req, 'product');
    const expected = parseIfMatch(req.header('if-match'));
    const patch = parseInput(productPatch, req.body);
    const session = sessionOf(res);
    const product = await products.update(session.forWrite().node, session.tenantId, id, patch, expected, actor(res));
    sendRecord(res, 200, product, await session.consistencyToken());
  });

  router.delete('/:id', async (req, res) => {
    const id = recordId(req, 'product');
    const session = sessionOf(res);
    await products.remove(session.forWrite().node, session.tenantId, id, actor(res));
    const token = await session.consistencyToken();
    if (token !== undefined) res.setHeader('X-Consistency-Token', token);
    res.status(204).end();
  });

  router.post('/:id/restore', async (req, res) => {
    const id = recordId(req, 'product');
    const session = sessionOf(res);
    const product = await products.restore(session.forWrite().node, session.tenantId, id, actor(res));
    sendRecord(res, 200, product, await session.consistencyToken());
  });

  return router;
}
