import type { Transaction } from 'sequelize';
import type { ShardNode } from '../../cluster/shard-node.js';
import { ADDRESS, audited, embeddedAttributes, type Address, type OrderRecord, type PaymentRecord } from '../../models/index.js';
import { GatewayError, ValidationError } from '../../errors/errors.js';
import { DEFAULT_RETRY_POLICY, retryableSqlState, type RetryHooks, type RetryPolicy } from '../retry-serializable.js';
import type { TenantSession } from '../tenant-session.js';
import { nodeTransaction } from '../node-transaction.js';
import { IdempotencyKeys, requestHash } from './idempotency-keys.js';
import { reserveStock, type OrderLineInput } from './order-stock.js';
import { orderDtoFromStored, toOrderDto, type OrderDto, type OrderWithCustomerDto } from './order-dto.js';
import type { ProductCache } from '../products/product-cache.js';
import { getOrder, listOrders, type OrderListQuery } from './order-queries.js';
import type { ListPage } from '../list-page.js';

/** the customer's address parts: what an order without a shipping address ships to */
const ADDRESS_ATTRIBUTES = embeddedAttributes(ADDRESS, 'address');

export interface OrderInput {
  readonly customerId: string;
  readonly items: readonly OrderLineInput[];
  /** absent: the customer's address (which may be none) */
  readonly shippingAddress?: Address | undefined;
  readonly billingAddress?: Address | null | undefined;
}

/** What POST /v1/orders answers: a fresh order, or the stored first response to its key. */
export interface OrderResult {
  readonly status: number;
  readonly order: OrderDto;
  readonly replayed: boolean;
}

/** Test-only fault injection; production wiring never sets it. */
export interface OrderFaults {
  /** runs inside the payment savepoint, after the payment row is written; throwing fails that attempt */
  readonly afterPaymentWrite?: (ctx: { readonly attempt: number; readonly node: ShardNode; readonly transaction: Transaction }) => Promise<void>;
}

export interface OrdersRepositoryDeps {
  /** cached product copies are dropped after an order commits (stock changed) */
  readonly products: Pick<ProductCache, 'invalidate'>;
  readonly retry?: RetryPolicy | undefined;
  readonly retryHooks?: RetryHooks | undefined;
  /** runs of the payment step (each in its own savepoint) before the order fails */
  readonly paymentAttempts?: number | undefined;
  readonly idempotency?: IdempotencyKeys | undefined;
  readonly faults?: OrderFaults | undefined;
}

/**
 * Orders of one tenant on one node: placement in one REPEATABLE READ transaction, re-run
 * whole on serialization failures and deadlocks.
 *
 * Why REPEATABLE READ: every statement sees one snapshot, so the customer check, the
 * prices, the stock check and the key lookup describe the same moment. A row another
 * transaction changed after that snapshot is never written from stale data: locking it
 * fails with 40001 (first updater wins) and the whole transaction re-runs on a fresh
 * snapshot; the same 40001 is what turns a concurrent first use of an Idempotency-Key
 * into a replay on the re-run. SERIALIZABLE would add predicate (SIRead) tracking and
 * false-positive aborts for nothing: every value this flow decides on is either locked
 * (products FOR UPDATE, the customer FOR SHARE) or guarded by a unique key
 * (idempotency_keys), so there is no write skew left for it to catch. The price of RR:
 * orders racing for one hot product succeed one per round, and the others re-run.
 */
export class OrdersRepository {
  readonly #deps: OrdersRepositoryDeps;
  readonly #keys: IdempotencyKeys;

  constructor(deps: OrdersRepositoryDeps) {
    this.#deps = Object.freeze({ ...deps });
    this.#keys = deps.idempotency ?? new IdempotencyKeys();
  }

  async create(session: TenantSession, input: OrderInput, idempotencyKey?: string): Promise<OrderResult> {
    const { tenantId, actor } = session;
    const hash = idempotencyKey === undefined ? undefined : requestHash(input);
    const outcome = await session.write(async (scoped) => {
      const { node } = scoped;
      const result = await nodeTransaction(
        node,
        async (transaction): Promise<OrderResult & { productIds: string[] }> => {
          // the key row goes first: a concurrent twin blocks here, before touching stock
          if (idempotencyKey !== undefined && hash !== undefined) {
            const claim = await this.#keys.claim(node, transaction, tenantId, idempotencyKey, hash, new Date());
            if (claim.kind === 'replay') return { status: claim.statusCode, order: orderDtoFromStored(claim.response), replayed: true, productIds: [] };
          }
          const placed = await this.place(node, transaction, tenantId, input, actor);
          if (idempotencyKey !== undefined) await this.#keys.complete(node, transaction, tenantId, idempotencyKey, 201, placed.order);
          return { status: 201, ...placed, replayed: false };
        },
        { tenantId, isolation: 'REPEATABLE READ', retry: this.#deps.retry ?? DEFAULT_RETRY_POLICY, retryHooks: this.#deps.retryHooks },
      );
      // committed: expired keys go in their own statement, outside the order's transaction
      if (!result.replayed && idempotencyKey !== undefined) await this.#keys.sweepExpired(scoped, tenantId, new Date());
      return result;
    });
    // after COMMIT only: a cache dropped before commit could be refilled with the old stock
    if (!outcome.replayed) await this.#deps.products.invalidate(session, outcome.productIds);
    return { status: outcome.status, order: outcome.order, replayed: outcome.replayed };
  }

  /** One order with its items, payment and customer. */
  async get(session: TenantSession, id: string): Promise<OrderWithCustomerDto> {
    return getOrder(session, id);
  }

  async list(session: TenantSession, q: OrderListQuery): Promise<ListPage<OrderWithCustomerDto>> {
    return listOrders(session, q);
  }

  /** The order itself: customer check, stock, order and items, payment, confirmation. */
  private async place(node: ShardNode, transaction: Transaction, tenantId: string, input: OrderInput, actor: string): Promise<{ order: OrderDto; productIds: string[] }> {
    const { Order, OrderItem, User } = node.models;
    // FOR SHARE: the customer cannot be deleted between this check and COMMIT
    const customer = await User.findOne({
      where: { tenantId, id: input.customerId },
      attributes: ['tenantId', 'id', ...ADDRESS_ATTRIBUTES],
      lock: transaction.LOCK.SHARE,
      transaction,
    });
    if (!customer) throw new ValidationError('customerId', `customerId: no customer ${JSON.stringify(input.customerId)}`);
    const addresses = { shippingAddress: input.shippingAddress ?? customer.address, billingAddress: input.billingAddress ?? null };

    const reservation = await reserveStock(node, transaction, tenantId, input.items, actor);
    const order = await Order.create({ tenantId, customerId: input.customerId, status: 'pending', total: reservation.total, ...addresses }, audited(transaction, actor));
    const items = await OrderItem.bulkCreate(
      reservation.lines.map((line) => ({ tenantId, orderId: order.id, ...line })),
      audited(transaction, actor),
    );
    const payment = await this.capturePayment(node, transaction, order, actor);
    await order.update({ status: 'confirmed' }, audited(transaction, actor));
    return { order: toOrderDto(order, items, payment), productIds: reservation.productIds };
  }

  /**
   * Records the (simulated) capture inside a SAVEPOINT: a failed attempt rolls back to it,
   * leaving the order and the reserved stock intact, and runs again in a fresh savepoint.
   * Serialization failures and deadlocks doom the whole transaction: they go straight up
   * to the transaction retry.
   */
  private async capturePayment(node: ShardNode, transaction: Transaction, order: OrderRecord, actor: string): Promise<PaymentRecord> {
    const attempts = Math.max(1, this.#deps.paymentAttempts ?? 3);
    for (let attempt = 1; ; attempt++) {
      try {
        return await node.sequelize.transaction({ transaction }, async (savepoint) => {
          const payment = await node.models.Payment.create(
            { tenantId: order.tenantId, orderId: order.id, amount: order.total, status: 'captured', method: 'card' },
            audited(savepoint, actor),
          );
          await this.#deps.faults?.afterPaymentWrite?.({ attempt, node, transaction: savepoint });
          return payment;
        });
      } catch (err) {
        if (retryableSqlState(err) !== undefined || err instanceof GatewayError) throw err;
        if (attempt >= attempts) {
          throw new GatewayError('SHARD_UNAVAILABLE', `The payment could not be recorded after ${attempts} attempts; nothing was charged or changed`, {
            cause: err,
            retryAfterSeconds: 1,
          });
        }
      }
    }
  }
}
