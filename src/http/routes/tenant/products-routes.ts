import express, { type Router } from 'express';
import type { ProductsRepository } from '../../../data/products/products-repository.js';
import type { ProductSortField } from '../../../models/index.js';
import { NotFoundError } from '../../../errors/errors.js';
import { parseInput } from '../../input/validation.js';
import { pageUnlessCursor, parseSort, recordId } from '../../input/record-params.js';
import { productCreate, productList, productPatch } from '../../input/product-input.js';
import { sessionOf } from '../../middleware/tenant-context.js';
import { sendRecord, versionedRecordRoutes } from './versioned-record-routes.js';

/** /v1/products: the versioned-record writes, a list (pages or keyset), and a cached single read. */
export function productsRoutes(products: ProductsRepository): Router {
  const router = express.Router();
  versionedRecordRoutes(router, { what: 'product', resource: products, createInput: productCreate, patchInput: productPatch });

  router.get('/', async (req, res) => {
    const q = parseInput(productList, { ...req.query });
    res.json(await products.list(sessionOf(res), { ...q, page: pageUnlessCursor(q), sort: parseSort<ProductSortField>(q.sort) }));
  });

  router.get('/:id', async (req, res) => {
    const id = recordId(req, 'product');
    const { product, cache } = await products.read(sessionOf(res), id);
    res.setHeader('X-Cache', cache);
    if (!product) throw new NotFoundError('product', id);
    sendRecord(res, 200, product);
  });

  return router;
}
