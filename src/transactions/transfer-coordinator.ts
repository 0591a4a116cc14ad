import type { Logger } from 'pino';
import type { PartnershipStore } from '../catalog/partnership-store.js';
import type { TransactionRecord, TransactionStore, TransferItem, TxProtocol } from '../catalog/transaction-store.js';
import { NotPartnersError } from '../errors/errors.js';
import { uuidv7 } from '../models/index.js';
import type { ProtocolOutcome } from './saga.js';
import { LeaseLost, StillPending } from './step-runner.js';

export interface TransferRequest {
  readonly buyer: string;
  readonly supplier: string;
  readonly items: readonly TransferItem[];
  readonly protocol: TxProtocol;
  readonly idempotencyKey?: string | undefined;
  readonly requestHash?: string | undefined;
}

export interface Protocol {
  drive(tx: TransactionRecord, deadline: number): Promise<ProtocolOutcome>;
}

export interface TransferCoordinatorOptions {
  /** this gateway's id in the log */
  readonly owner: string;
  /** how long a claim on a transaction holds; a dead pod's transactions are taken over after it */
  readonly leaseMs: number;
  /** how long a request drives its transfer before answering 202 pending and leaving it to recovery */
  readonly requestWaitMs: number;
}

export interface TransferCoordinatorDeps {
  readonly store: TransactionStore;
  readonly partnerships: Pick<PartnershipStore, 'exists'>;
  readonly protocols: Readonly<Record<TxProtocol, Protocol>>;
  /** the saga of a tenant's erase (kind `erase`) */
  readonly erase: Protocol;
  readonly logger: Logger;
}

const FIRST_STAGE: Record<TxProtocol, string> = { saga: 'reserve', '2pc': 'prepare' };

/**
 * The coordinator of distributed transactions (transfers, and tenant erases): logs one before its first step,
 * drives it through its protocol with a lease on it, and ends it in the log (committed,
 * compensated, aborted). What it cannot finish in time it leaves pending with the lease
 * released, for the recovery loop of any pod; what a dead pod left, that loop finds when
 * the lease lapses (`recover`).
 */
export class TransferCoordinator {
  constructor(
    private readonly deps: TransferCoordinatorDeps,
    private readonly options: TransferCoordinatorOptions,
  ) {}

  /** A buyer's transfer: 403 without a partnership; a repeated Idempotency-Key gets the first one's transaction. */
  async start(request: TransferRequest): Promise<{ record: TransactionRecord; replayed: boolean }> {
    if (!(await this.deps.partnerships.exists(request.supplier, request.buyer))) throw new NotPartnersError(request.supplier, request.buyer);
    const { record, replayed } = await this.deps.store.begin(
      { id: uuidv7(), stage: FIRST_STAGE[request.protocol], ...request },
      this.options.owner,
      this.options.leaseMs,
    );
    if (replayed) {
      // a twin request, or a retry after a lost answer: help finish it if nobody holds it
      if (record.state === 'pending') {
        const claimed = await this.deps.store.claim(record.id, this.options.owner, this.options.leaseMs);
        if (claimed) await this.drive(claimed, performance.now() + this.options.requestWaitMs);
      }
      return { record: (await this.deps.store.get(record.id)) ?? record, replayed: true };
    }
    await this.drive(record, performance.now() + this.options.requestWaitMs);
    return { record: (await this.deps.store.get(record.id)) ?? record, replayed: false };
  }

  /**
   * Starts erasing a tenant (the caller answers 202 with the id at once): one erase per
   * tenant, ever — asking again gets the same one (and helps it along if nobody holds it).
   */
  async erase(tenantId: string): Promise<TransactionRecord> {
    const { record, replayed } = await this.deps.store.begin(
      { id: uuidv7(), kind: 'erase', protocol: 'saga', stage: 'revoke', buyer: tenantId, supplier: tenantId, items: [], idempotencyKey: 'erase', requestHash: 'erase' },
      this.options.owner,
      this.options.leaseMs,
    );
    const mine = !replayed ? record : record.state === 'pending' ? await this.deps.store.claim(record.id, this.options.owner, this.options.leaseMs) : undefined;
    if (mine) void this.drive(mine, performance.now() + this.options.leaseMs / 2);
    return record;
  }

  /** Drives a transaction this pod holds until it ends or `deadline`; never throws. */
  async drive(record: TransactionRecord, deadline: number): Promise<void> {
    const log = this.deps.logger.child({ transaction: record.id, protocol: record.protocol });
    try {
      const protocol = record.kind === 'erase' ? this.deps.erase : this.deps.protocols[record.protocol];
      const outcome = await protocol.drive(record, deadline);
      await this.deps.store.finish(record.id, outcome.state, outcome.error);
      log.info({ state: outcome.state, code: outcome.error?.code }, 'transaction ended');
    } catch (err) {
      if (err instanceof LeaseLost) {
        log.warn('transaction taken over by another gateway');
        return;
      }
      if (err instanceof StillPending) log.warn({ err: err.last.detail }, 'transaction still pending: left to recovery');
      else log.error({ err: (err as Error).message }, 'transaction drive failed: left to recovery');
      await this.deps.store.release(record.id, this.options.owner).catch(() => undefined);
    }
  }

  /** Claims up to `limit` pending transactions nobody holds and drives each (recovery). */
  async recover(limit: number): Promise<number> {
    const claimed = await this.deps.store.claimStale(this.options.owner, this.options.leaseMs, limit);
    for (const record of claimed) await this.drive(record, performance.now() + this.options.leaseMs / 2);
    return claimed.length;
  }
}
