import express, { type Router } from 'express';
import type { OrdersRepository } from '../../../data/orders/orders-repository.js';
import type { OrderSortField } from '../../../data/orders/order-queries.js';
import { parseInput } from '../../input/validation.js';
import { pageUnlessCursor, parseSort, recordId } from '../../input/record-params.js';
import { orderCreate, orderList, parseIdempotencyKey } from '../../input/order-input.js';
import { sessionOf } from '../../middleware/tenant-context.js';
import { sendRecord } from './versioned-record-routes.js';

/** /v1/orders: placement (idempotent with Idempotency-Key), a list and a single read. */
export function ordersRoutes(orders: OrdersRepository): Router {
  const router = express.Router();

  router.post('/', async (req, res) => {
    const key = parseIdempotencyKey(req.header('idempotency-key'));
    const input = parseInput(orderCreate, req.body);
    const result = await orders.create(sessionOf(res), input, key);
    // a replay answers exactly as the first time did, and says so
    if (result.replayed) res.setHeader('Idempotent-Replayed', 'true');
    res.setHeader('Location', `${req.baseUrl}/${result.order.id}`);
    sendRecord(res, result.status, result.order);
  });

  router.get('/', async (req, res) => {
    const q = parseInput(orderList, { ...req.query });
    res.json(await orders.list(sessionOf(res), { ...q, page: pageUnlessCursor(q), sort: parseSort<OrderSortField>(q.sort) }));
  });

  router.get('/:id', async (req, res) => {
    sendRecord(res, 200, await orders.get(sessionOf(res), recordId(req, 'order')));
  });

  return router;
}
