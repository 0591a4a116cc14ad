import { Op, type FindOptions, type Includeable, type Order as OrderBy, type WhereOptions } from 'sequelize';
import type { ShardNode } from '../../cluster/shard-node.js';
import type { TenantSession } from '../tenant-session.js';
import { ORDER_SORTABLE, type OrderStatus } from '../../models/order.js';
import { NotFoundError } from '../../errors/errors.js';
import { afterCursor, decodeCursor, encodeCursor } from '../keyset-cursor.js';
import type { ListPage, ListQuery } from '../list-page.js';
import { toOrderWithCustomerDto, type LoadedOrder, type OrderWithCustomerDto } from './order-dto.js';

export type OrderSortField = keyof typeof ORDER_SORTABLE;

export interface OrderListQuery extends ListQuery<OrderSortField> {
  readonly status?: OrderStatus | undefined;
  readonly customerId?: string | undefined;
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

async function findOrders(node: ShardNode, tenantId: string, options: FindOptions & { where: WhereOptions; order: OrderBy }): Promise<LoadedOrder[]> {
  const rows = await node.models.Order.findAll({ ...options, include: eagerLoads(node, tenantId) });
  return rows as LoadedOrder[];
}

export async function getOrder(session: TenantSession, id: string): Promise<OrderWithCustomerDto> {
  const { tenantId } = session;
  const [order] = await session.read((node) => findOrders(node, tenantId, { where: { tenantId, id }, order: [['id', 'ASC']] }));
  if (order === undefined) throw new NotFoundError('order', id);
  return toOrderWithCustomerDto(order);
}

function cursorValue(dto: OrderWithCustomerDto, field: OrderSortField): string | number {
  return dto[field];
}

/** One page of orders, in page mode (with `total`) or keyset mode (after `cursor`). */
export async function listOrders(session: TenantSession, q: OrderListQuery): Promise<ListPage<OrderWithCustomerDto>> {
  const { tenantId } = session;
  const attribute = ORDER_SORTABLE[q.sort.field];
  const conditions: WhereOptions[] = [{ tenantId }];
  if (q.status !== undefined) conditions.push({ status: q.status });
  if (q.customerId !== undefined) conditions.push({ customerId: q.customerId });
  const sortKey = `${q.sort.direction === 'DESC' ? '-' : ''}${q.sort.field}`;
  const keyset = q.page === undefined;
  const filter: WhereOptions = { [Op.and]: [...conditions] };
  if (keyset && q.cursor) conditions.push(afterCursor(attribute, q.sort.direction, decodeCursor(q.cursor, sortKey)));

  return session.read(async (node) => {
    const rows = await findOrders(node, tenantId, {
      where: { [Op.and]: conditions },
      // id breaks ties so pages are stable
      order: [[attribute, q.sort.direction], ['id', q.sort.direction]],
      limit: q.pageSize,
      offset: keyset ? 0 : ((q.page ?? 1) - 1) * q.pageSize,
    });
    const items = rows.map(toOrderWithCustomerDto);
    const last = items.at(-1);
    const nextCursor =
      last !== undefined && items.length === q.pageSize ? encodeCursor({ sort: sortKey, value: cursorValue(last, q.sort.field), id: last.id }) : null;
    if (keyset) return { items, pageSize: q.pageSize, nextCursor };
    const total = await node.models.Order.count({ where: filter });
    return { items, page: q.page, pageSize: q.pageSize, total, nextCursor };
  });
}
