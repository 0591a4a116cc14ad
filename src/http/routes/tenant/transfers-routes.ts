import express, { type Router } from 'express';
import type { TransactionStore } from '../../../catalog/transaction-store.js';
import { requestHash } from '../../../data/orders/idempotency-keys.js';
import { NotFoundError } from '../../../errors/errors.js';
import type { TransferCoordinator } from '../../../transactions/transfer-coordinator.js';
import { transferFailure, transferView } from '../../../transactions/transfer-view.js';
import { parseIdempotencyKey } from '../../input/order-input.js';
import { recordId } from '../../input/record-params.js';
import { transferCreate, transferList } from '../../input/transfer-input.js';
import { parseInput } from '../../input/validation.js';
import { tenantOf } from '../../middleware/tenant-context.js';

export interface TransfersRoutesDeps {
  readonly coordinator: Pick<TransferCoordinator, 'start'>;
  readonly transactions: Pick<TransactionStore, 'get' | 'steps' | 'list' | 'stepsOf'>;
}

/** /v1/transfers: a buyer's transfer from a partner supplier, and the transfers a tenant is party to. */
export function transfersRoutes(deps: TransfersRoutesDeps): Router {
  const router = express.Router();

  router.post('/', async (req, res) => {
    const input = parseInput(transferCreate, req.body);
    const idempotencyKey = parseIdempotencyKey(req.header('idempotency-key'));
    const { record } = await deps.coordinator.start({
      buyer: tenantOf(res).id,
      supplier: input.supplier,
      items: input.items,
      protocol: input.protocol,
      idempotencyKey,
      requestHash: idempotencyKey === undefined ? undefined : requestHash(input),
    });
    if (record.state === 'aborted' || record.state === 'compensated') throw transferFailure(record);
    res.status(record.state === 'committed' ? 201 : 202).json(transferView(record, await deps.transactions.steps(record.id)));
  });

  router.get('/', async (req, res) => {
    const q = parseInput(transferList, { ...req.query });
    const records = await deps.transactions.list({ kind: 'transfer', tenant: tenantOf(res).id, role: q.role, state: q.state, limit: q.limit });
    const steps = await deps.transactions.stepsOf(records.map((r) => r.id));
    res.json({ items: records.map((r) => transferView(r, steps.get(r.id) ?? [])) });
  });

  router.get('/:id', async (req, res) => {
    const id = recordId(req, 'transfer');
    const record = await deps.transactions.get(id);
    const me = tenantOf(res).id;
    // another pair's transfer is as unknown as a missing one
    if (record === undefined || record.kind !== 'transfer' || (record.buyer !== me && record.supplier !== me)) throw new NotFoundError('transfer', id);
    res.json(transferView(record, await deps.transactions.steps(id)));
  });

  return router;
}
