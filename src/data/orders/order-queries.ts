import { Op, type FindOptions, type Includeable, type Order as OrderBy, type Transaction, type WhereOptions } from 'sequelize';
import type { ShardNode } from '../../cluster/shard-node.js';
import type { TenantSession } from '../tenant-session.js';
import { ORDER_SORTABLE, type OrderStatus } from '../../models/order.js';
import { NotFoundError } from '../../errors/errors.js';
import { ListPager, type ListPage, type ListQuery } from '../list-page.js';
import { toOrderWithCustomerDto, type LoadedOrder, type OrderWithCustomerDto } from './order-dto.js';

export type OrderSortField = keyof typeof ORDER_SORTABLE;

export interface OrderListQuery extends ListQuery<OrderSortField> {
  readonly status?: OrderStatus | undefined;
  readonly customerId?: string | undefined;
  readonly shippingCountry?: string | undefined;
}

/**
 * What every order read loads with the orders, in a constant number of statements however
 * many orders: customer and payment joined into the orders query (each at most one row
 * per order), items in one more `separate` query for all the page's orders (`order_id IN
 * (…)`). Never one query per order. Every joined table is filtered by tenant_id too, so
 * each join runs on its tenant-led index.
 */
function eagerLoads(node: ShardNode, tenantId: string): Includeable[] {
  const { OrderItem, Payment, User } = node.models;
  return [
    { model: OrderItem, as: 'items', separate: true, where: { tenantId }, order: [['id', 'ASC']] },
    { model: Payment, as: 'payment', required: false, where: { tenantId, status: 'captured' } },
    // paranoid: false: an order keeps showing who placed it after that user is deleted
    { model: User, as: 'customer', required: false, paranoid: false, where: { tenantId }, attributes: ['id', 'username', 'email'] },
  ];
}

async function findOrders(node: ShardNode, tenantId: string, options: FindOptions & { where: WhereOptions; order: OrderBy; transaction: Transaction }): Promise<LoadedOrder[]> {
  // the transaction reaches the `separate` items query too (Sequelize cascades it)
  const rows = await node.models.Order.findAll({ ...options, include: eagerLoads(node, tenantId) });
  return rows as LoadedOrder[];
}

export async function getOrder(session: TenantSession, id: string): Promise<OrderWithCustomerDto> {
  const { tenantId } = session;
  const [order] = await session.readModels((transaction, node) => findOrders(node, tenantId, { where: { tenantId, id }, order: [['id', 'ASC']], transaction }));
  if (order === undefined) throw new NotFoundError('order', id);
  return toOrderWithCustomerDto(order);
}

/** One page of orders, in page mode or keyset mode (after `cursor`); `total` when asked. */
export async function listOrders(session: TenantSession, q: OrderListQuery): Promise<ListPage<OrderWithCustomerDto>> {
  const { tenantId } = session;
  const pager = new ListPager(q, ORDER_SORTABLE[q.sort.field]);
  const conditions: WhereOptions[] = [{ tenantId }];
  if (q.status !== undefined) conditions.push({ status: q.status });
  if (q.customerId !== undefined) conditions.push({ customerId: q.customerId });
  // orders_tenant_shipping_country serves it, in created order
  if (q.shippingCountry !== undefined) conditions.push({ shippingCountry: q.shippingCountry });
  return session.readModels(async (transaction, node) => {
    const rows = await findOrders(node, tenantId, { where: pager.where(conditions), order: pager.order, limit: pager.limit, offset: pager.offset, transaction });
    const total = pager.wantsTotal ? await node.models.Order.count({ where: { [Op.and]: conditions }, transaction }) : undefined;
    return pager.page(rows.map(toOrderWithCustomerDto), (o) => o[q.sort.field], total);
  });
}
