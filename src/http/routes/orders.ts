import express, { type Router } from 'express';
import type { OrdersRepository } from '../../data/orders-repository.js';
import type { OrderSortField } from '../../data/order-queries.js';
import { parseInput } from '../validation.js';
import { sessionOf, tenantOf } from '../tenant-context.js';
import { orderCreate, orderList, parseIdempotencyKey } from '../schemas/orders.js';
import { sendRecord, recordId } from '../records.js';


export interface OrderRoutesDeps {
  readonly orders: OrdersRepository;
}

export function ordersRoutes(deps: OrderRoutesDeps): Router {
  const { orders } = deps;
  const router = express.Router();

  router.post('/', async (req, res) => {
    const key = parseIdempotencyKey(req.header('idempotency-key'));
    const input = parseInput(orderCreate, req.body);
    const session = sessionOf(res);
    const result = await orders.create(session.forWrite().node, session.tenantId, input, `tenant:${tenantOf(res).id}`, key);
    // a replay answers exactly as the first time did, and says so
    if (result.replayed) res.setHeader('Idempotent-Replayed', 'true');
    res.setHeader('Location', `${req.baseUrl}/${result.order.id}`);
    sendRecord(res, result.status, result.order, await session.consistencyToken());
  });

  router.get('/', async (req, res) => {
    const q = parseInput(orderList, { ...req.query });
    const descending = q.sort.startsWith('-');
    const field = (descending ? q.sort.slice(1) : q.sort) as OrderSortField;
    const session = sessionOf(res);
    // page numbers unless the client asked for keyset paging with a cursor
    const page = q.cursor === undefined ? (q.page ?? 1) : undefined;
    // a replica (lag within bound, or past the client's token); session.read retries once
    // on the next choice if that replica fails at the connection level
    const list = {
      pageSize: q.pageSize,
      page,
      cursor: q.cursor,
      status: q.status,
      customerId: q.customerId,
      sort: { field, direction: descending ? ('DESC' as const) : ('ASC' as const) },
    };
    res.json(await session.read((node) => orders.list(node, session.tenantId, list)));
  });

  router.get('/:id', async (req, res) => {
    const id = recordId(req, 'order');
    const session = sessionOf(res);
    sendRecord(res, 200, await session.read((node) => orders.get(node, session.tenantId, id)));
  });

  return router;
}
