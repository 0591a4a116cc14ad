import { UniqueConstraintError } from 'sequelize';
import { ConflictError } from '../errors/errors.js';
import type { CatalogDatabase, Row } from './catalog-database.js';

export type TxProtocol = 'saga' | '2pc';
export type TxKind = 'transfer' | 'erase';
export type TxState = 'pending' | 'committed' | 'compensated' | 'aborted';
export type TxDecision = 'commit' | 'abort';
export type StepState = 'done' | 'failed' | 'waiting';

export interface TransferItem {
  readonly productId: string;
  readonly quantity: number;
  readonly intoProductId: string;
}

/** Why a transaction did not commit, or its last transient failure while pending: the problem it answers with. */
export interface TxError {
  readonly code: string;
  readonly detail: string;
  readonly field?: string | undefined;
}

export interface TransactionRecord {
  readonly id: string;
  readonly kind: TxKind;
  readonly protocol: TxProtocol;
  readonly state: TxState;
  readonly stage: string;
  readonly decision: TxDecision | null;
  readonly buyer: string;
  readonly supplier: string;
  readonly items: readonly TransferItem[];
  readonly error: TxError | null;
  readonly attempts: number;
  readonly owner: string | null;
  readonly leaseUntil: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly finishedAt: string | null;
}

export interface StepRecord {
  readonly shard: string;
  readonly tenantId: string;
  readonly action: string;
  readonly state: StepState;
  readonly error: string | null;
  /** what the step did, where that says more than its state (rows an erase deleted) */
  readonly detail?: Readonly<Record<string, unknown>> | null | undefined;
  readonly owner: string | null;
  readonly at: string;
}

export interface NewTransaction {
  readonly id: string;
  /** default transfer */
  readonly kind?: TxKind | undefined;
  readonly protocol: TxProtocol;
  readonly stage: string;
  readonly buyer: string;
  readonly supplier: string;
  readonly items: readonly TransferItem[];
  readonly idempotencyKey?: string | undefined;
  readonly requestHash?: string | undefined;
}

export interface TransactionFilter {
  readonly kind?: TxKind | undefined;
  readonly tenant?: string | undefined;
  readonly role?: 'buyer' | 'supplier' | undefined;
  readonly state?: TxState | undefined;
  readonly limit: number;
}

const iso = (v: unknown): string => new Date(v as Date).toISOString();

function fromRow(r: Row): TransactionRecord {
  const params = r.params as { items: TransferItem[] };
  return {
    id: r.id as string,
    kind: r.kind as TxKind,
    protocol: r.protocol as TxProtocol,
    state: r.state as TxState,
    stage: r.stage as string,
    decision: (r.decision as TxDecision | null) ?? null,
    buyer: r.buyer_id as string,
    supplier: r.supplier_id as string,
    items: params.items,
    error: (r.error as TxError | null) ?? null,
    attempts: Number(r.attempts),
    owner: (r.owner as string | null) ?? null,
    leaseUntil: r.lease_until === null ? null : iso(r.lease_until),
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
    finishedAt: r.finished_at === null ? null : iso(r.finished_at),
  };
}

function stepFromRow(r: Row): StepRecord {
  return {
    shard: r.shard as string,
    tenantId: r.tenant_id as string,
    action: r.action as string,
    state: r.state as StepState,
    error: (r.error as string | null) ?? null,
    detail: (r.detail as Record<string, unknown> | null) ?? null,
    owner: (r.owner as string | null) ?? null,
    at: iso(r.at),
  };
}

const COLUMNS = 'id, kind, protocol, state, stage, decision, buyer_id, supplier_id, params, error, attempts, owner, lease_until, created_at, updated_at, finished_at';

/**
 * The coordinator's durable log of distributed transactions. Every change that matters to
 * recovery is conditional: a stage is written only by the lease holder of a pending
 * transaction, a decision only once, a terminal state only over a pending one, so a pod
 * that lost its lease (or a second one finishing the first's work) cannot undo what
 * another decided.
 */
export class TransactionStore {
  constructor(private readonly db: CatalogDatabase) {}

  /**
   * Logs a new transaction, its lease held by `owner`. With an Idempotency-Key already used
   * by this buyer: the earlier transaction when the request is the same (`replayed`), a 409
   * naming the header when it is not.
   */
  async begin(tx: NewTransaction, owner: string, leaseMs: number): Promise<{ record: TransactionRecord; replayed: boolean }> {
    try {
      const rows = await this.db.select(
        `INSERT INTO transactions (id, kind, protocol, stage, buyer_id, supplier_id, params, idempotency_key, request_hash, owner, lease_until)
         VALUES ($1, $11, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, now() + $10 * interval '1 millisecond') RETURNING ${COLUMNS}`,
        [tx.id, tx.protocol, tx.stage, tx.buyer, tx.supplier, JSON.stringify({ items: tx.items }), tx.idempotencyKey ?? null, tx.requestHash ?? null, owner, leaseMs, tx.kind ?? 'transfer'],
      );
      return { record: fromRow(rows[0]!), replayed: false };
    } catch (err) {
      if (!(err instanceof UniqueConstraintError) || tx.idempotencyKey === undefined) throw err;
      const rows = await this.db.select(`SELECT ${COLUMNS}, request_hash FROM transactions WHERE buyer_id = $1 AND idempotency_key = $2`, [tx.buyer, tx.idempotencyKey]);
      const earlier = rows[0];
      if (earlier === undefined) throw err;
      if (earlier.request_hash !== (tx.requestHash ?? null)) {
        throw new ConflictError('Idempotency-Key was already used for a different transfer', 'Idempotency-Key');
      }
      return { record: fromRow(earlier), replayed: true };
    }
  }

  async get(id: string): Promise<TransactionRecord | undefined> {
    const rows = await this.db.select(`SELECT ${COLUMNS} FROM transactions WHERE id = $1`, [id]);
    return rows[0] === undefined ? undefined : fromRow(rows[0]);
  }

  async steps(id: string): Promise<StepRecord[]> {
    const rows = await this.db.select('SELECT shard, tenant_id, action, state, error, detail, owner, at FROM transaction_steps WHERE transaction_id = $1 ORDER BY seq', [id]);
    return rows.map(stepFromRow);
  }

  /** The steps of several transactions at once (a page of them), each list in order. */
  async stepsOf(ids: readonly string[]): Promise<Map<string, StepRecord[]>> {
    const out = new Map<string, StepRecord[]>(ids.map((id) => [id, []]));
    if (ids.length === 0) return out;
    const rows = await this.db.select(
      'SELECT transaction_id, shard, tenant_id, action, state, error, detail, owner, at FROM transaction_steps WHERE transaction_id = ANY($1::uuid[]) ORDER BY seq',
      [ids],
    );
    for (const r of rows) out.get(r.transaction_id as string)?.push(stepFromRow(r));
    return out;
  }

  /** Newest first; a tenant sees the transactions it is a party to (as `role`, or either). */
  async list(filter: TransactionFilter): Promise<TransactionRecord[]> {
    const where: string[] = [];
    const bind: unknown[] = [];
    if (filter.tenant !== undefined) {
      bind.push(filter.tenant);
      if (filter.role === 'buyer') where.push(`buyer_id = $${bind.length}`);
      else if (filter.role === 'supplier') where.push(`supplier_id = $${bind.length}`);
      else where.push(`(buyer_id = $${bind.length} OR supplier_id = $${bind.length})`);
    }
    if (filter.kind !== undefined) {
      bind.push(filter.kind);
      where.push(`kind = $${bind.length}`);
    }
    if (filter.state !== undefined) {
      bind.push(filter.state);
      where.push(`state = $${bind.length}`);
    }
    bind.push(filter.limit);
    const rows = await this.db.select(
      `SELECT ${COLUMNS} FROM transactions ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT $${bind.length}`,
      bind,
    );
    return rows.map(fromRow);
  }

  async appendStep(id: string, step: Omit<StepRecord, 'at'>): Promise<void> {
    await this.db.exec(
      'INSERT INTO transaction_steps (transaction_id, shard, tenant_id, action, state, error, detail, owner) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8)',
      [id, step.shard, step.tenantId, step.action, step.state, step.error, step.detail == null ? null : JSON.stringify(step.detail), step.owner],
    );
  }

  /**
   * Moves a pending transaction to `stage`, if `owner` still holds it (false when it does
   * not); with the failure that sent it there, kept for the answer it ends with.
   */
  async setStage(id: string, owner: string, stage: string, error?: TxError): Promise<boolean> {
    return (
      (await this.db.exec(
        `UPDATE transactions SET stage = $3, error = COALESCE($4::jsonb, error), updated_at = now() WHERE id = $1 AND owner = $2 AND state = 'pending'`,
        [id, owner, stage, error === undefined ? null : JSON.stringify(error)],
      )) > 0
    );
  }

  /**
   * Records the decision of a two-phase commit, once: the first decision written wins, and
   * the one in the log is returned (a pod that lost the race follows the winner's).
   */
  async decide(id: string, decision: TxDecision): Promise<TxDecision> {
    const rows = await this.db.select(
      `WITH set AS (UPDATE transactions SET decision = $2, updated_at = now() WHERE id = $1 AND decision IS NULL RETURNING decision)
       SELECT decision FROM set UNION ALL SELECT decision FROM transactions WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM set)`,
      [id, decision],
    );
    return rows[0]!.decision as TxDecision;
  }

  /** A transient failure while pending: counted, the latest kept. */
  async noteFailure(id: string, error: TxError): Promise<void> {
    await this.db.exec(`UPDATE transactions SET error = $2::jsonb, attempts = attempts + 1, updated_at = now() WHERE id = $1 AND state = 'pending'`, [id, JSON.stringify(error)]);
  }

  /** Ends a pending transaction; false when it had already ended. */
  async finish(id: string, state: Exclude<TxState, 'pending'>, error: TxError | null): Promise<boolean> {
    return (
      (await this.db.exec(
        `UPDATE transactions SET state = $2, error = $3::jsonb, owner = NULL, lease_until = NULL, updated_at = now(), finished_at = now()
          WHERE id = $1 AND state = 'pending'`,
        [id, state, error === null ? null : JSON.stringify(error)],
      )) > 0
    );
  }

  /** Gives up the lease now (the caller stops driving it): the next recovery pass, on any pod, takes it. */
  async release(id: string, owner: string): Promise<void> {
    await this.db.exec(`UPDATE transactions SET lease_until = now() WHERE id = $1 AND owner = $2 AND state = 'pending'`, [id, owner]);
  }

  /** Pending transactions nobody holds (lease lapsed or released), claimed for `owner`; oldest lease first. */
  async claimStale(owner: string, leaseMs: number, limit: number): Promise<TransactionRecord[]> {
    const rows = await this.db.select(
      `UPDATE transactions SET owner = $1, lease_until = now() + $2 * interval '1 millisecond', updated_at = now()
        WHERE id IN (SELECT id FROM transactions WHERE state = 'pending' AND (lease_until IS NULL OR lease_until <= now())
                      ORDER BY lease_until NULLS FIRST LIMIT $3 FOR UPDATE SKIP LOCKED)
        RETURNING ${COLUMNS}`,
      [owner, leaseMs, limit],
    );
    return rows.map(fromRow);
  }

  /** Claims one transaction for `owner` if it is pending and nobody holds it. */
  async claim(id: string, owner: string, leaseMs: number): Promise<TransactionRecord | undefined> {
    const rows = await this.db.select(
      `UPDATE transactions SET owner = $2, lease_until = now() + $3 * interval '1 millisecond', updated_at = now()
        WHERE id = $1 AND state = 'pending' AND (lease_until IS NULL OR lease_until <= now() OR owner = $2) RETURNING ${COLUMNS}`,
      [id, owner, leaseMs],
    );
    return rows[0] === undefined ? undefined : fromRow(rows[0]);
  }

  /** The transactions that are done one way or the other, of those named (a prepared transaction's gid names one). */
  async states(ids: readonly string[]): Promise<Map<string, { state: TxState; decision: TxDecision | null; leaseUntil: string | null }>> {
    if (ids.length === 0) return new Map();
    const rows = await this.db.select('SELECT id, state, decision, lease_until FROM transactions WHERE id = ANY($1::uuid[])', [ids]);
    return new Map(
      rows.map((r) => [r.id as string, { state: r.state as TxState, decision: (r.decision as TxDecision | null) ?? null, leaseUntil: r.lease_until === null ? null : iso(r.lease_until) }]),
    );
  }
}
