import express, { type Router } from 'express';
import type { TransactionStore } from '../../../catalog/transaction-store.js';
import { NotFoundError } from '../../../errors/errors.js';
import { transactionView } from '../../../transactions/transfer-view.js';
import { recordId } from '../../input/record-params.js';
import { transactionList } from '../../input/transfer-input.js';
import { parseInput } from '../../input/validation.js';

export interface AdminTransactionsDeps {
  readonly transactions: Pick<TransactionStore, 'get' | 'steps' | 'list' | 'stepsOf'>;
}

/** /admin/transactions: every distributed transaction, its coordinator log and steps. */
export function adminTransactionsRoutes(deps: AdminTransactionsDeps): Router {
  const router = express.Router();
  router.get('/transactions', async (req, res) => {
    const q = parseInput(transactionList, { ...req.query });
    const records = await deps.transactions.list({ state: q.state, limit: q.limit });
    const steps = await deps.transactions.stepsOf(records.map((r) => r.id));
    res.json({ items: records.map((r) => transactionView(r, steps.get(r.id) ?? [])) });
  });
  router.get('/transactions/:id', async (req, res) => {
    const id = recordId(req, 'transaction');
    const record = await deps.transactions.get(id);
    if (record === undefined) throw new NotFoundError('transaction', id);
    res.json(transactionView(record, await deps.transactions.steps(id)));
  });
  return router;
}
