import type { StepRecord, TransactionRecord } from '../catalog/transaction-store.js';
import { ErrorCodes, GatewayError, type ErrorCode } from '../errors/errors.js';

/** A transfer as either party sees it: its steps without the pods that ran them. */
export function transferView(tx: TransactionRecord, steps: readonly StepRecord[]): Record<string, unknown> {
  return {
    id: tx.id,
    protocol: tx.protocol,
    state: tx.state,
    supplier: tx.supplier,
    buyer: tx.buyer,
    items: tx.items,
    steps: steps.map((s) => ({ shard: s.shard, tenant: s.tenantId, action: s.action, state: s.state, at: s.at })),
    ...(tx.state !== 'committed' && tx.error ? { error: { code: tx.error.code, detail: tx.error.detail } } : {}),
    createdAt: tx.createdAt,
    finishedAt: tx.finishedAt,
  };
}

/** The operator's view: the whole log entry, the coordinator's lease and every attempt. */
export function transactionView(tx: TransactionRecord, steps: readonly StepRecord[]): Record<string, unknown> {
  return { ...tx, steps };
}

const JOB_STATE = { pending: 'running', committed: 'succeeded', compensated: 'failed', aborted: 'failed' } as const;

/** A tenant erase as a job: running until every row is gone, with the rows each shard gave up. */
export function eraseJobView(tx: TransactionRecord, steps: readonly StepRecord[]): Record<string, unknown> {
  const rowsDeleted = steps.reduce((n, s) => n + (s.state === 'done' && typeof s.detail?.rows === 'number' ? s.detail.rows : 0), 0);
  return {
    id: tx.id,
    kind: 'erase',
    tenant: tx.buyer,
    state: JOB_STATE[tx.state],
    progress: { stage: tx.state === 'committed' ? 'done' : tx.stage, rowsDeleted },
    steps: steps.map((s) => ({ shard: s.shard, action: s.action, state: s.state, at: s.at, ...(s.detail ? { detail: s.detail } : {}), ...(s.error ? { error: s.error } : {}) })),
    ...(tx.state === 'pending' && tx.error ? { lastError: tx.error } : {}),
    createdAt: tx.createdAt,
    updatedAt: tx.updatedAt,
  };
}

/**
 * The answer a transfer that did not commit gives: the failure that ended it (409
 * INSUFFICIENT_STOCK, a 400 naming the item), saying which transfer it was.
 */
export function transferFailure(tx: TransactionRecord): GatewayError {
  const code = (tx.error?.code ?? 'CONFLICT') in ErrorCodes ? ((tx.error?.code ?? 'CONFLICT') as ErrorCode) : 'CONFLICT';
  const detail = `${tx.error?.detail ?? 'the transfer did not commit'} (transfer ${tx.id} ${tx.state}: nothing changed on either side)`;
  // given up because a shard was unavailable: the client may retry (a new transfer) shortly
  return new GatewayError(code, detail, { field: tx.error?.field, ...(ErrorCodes[code].status >= 500 ? { retryAfterSeconds: 1 } : {}) });
}
