import type { Address, OrderItemRecord, OrderRecord, OrderStatus, PaymentRecord } from '../../models/index.js';
import { amountNumber } from '../money.js';

export interface OrderItemDto {
  readonly id: string;
  readonly productId: string;
  readonly quantity: number;
  /** exact in the database (numeric); a JSON number with at most two decimals here */
  readonly unitPrice: number;
  readonly lineTotal: number;
}

export interface PaymentDto {
  readonly id: string;
  readonly amount: number;
  readonly status: 'captured' | 'failed';
  readonly method: string;
}

export interface CustomerDto {
  readonly id: string;
  readonly username: string;
  readonly email: string;
}

export interface OrderDto {
  readonly id: string;
  readonly customerId: string;
  readonly status: OrderStatus;
  readonly total: number;
  readonly shippingAddress: Address | null;
  readonly billingAddress: Address | null;
  readonly items: OrderItemDto[];
  readonly payment: PaymentDto | null;
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** Reads (one order, lists) also carry the customer, eager loaded with the orders. */
export interface OrderWithCustomerDto extends OrderDto {
  readonly customer: CustomerDto | null;
}

/** An order row with what the readers eager-load onto it. */
export type LoadedOrder = OrderRecord & {
  payment?: PaymentRecord | null;
  customer?: { id: string; username: string; email: string } | null;
};

export function toOrderItemDto(item: OrderItemRecord): OrderItemDto {
  return {
    id: item.id,
    productId: item.productId,
    quantity: item.quantity,
    unitPrice: amountNumber(item.unitPrice),
    lineTotal: amountNumber(item.lineTotal),
  };
}

export function toPaymentDto(payment: PaymentRecord): PaymentDto {
  return { id: payment.id, amount: amountNumber(payment.amount), status: payment.status, method: payment.method };
}

export function toOrderDto(order: OrderRecord, items: readonly OrderItemRecord[], payment: PaymentRecord | null | undefined): OrderDto {
  return {
    id: order.id,
    customerId: order.customerId,
    status: order.status,
    total: amountNumber(order.total),
    shippingAddress: order.shippingAddress,
    billingAddress: order.billingAddress,
    items: items.map(toOrderItemDto),
    payment: payment ? toPaymentDto(payment) : null,
    version: order.version,
    createdAt: order.createdAt.toISOString(),
    updatedAt: order.updatedAt.toISOString(),
  };
}

export function toOrderWithCustomerDto(order: LoadedOrder): OrderWithCustomerDto {
  const c = order.customer;
  return {
    ...toOrderDto(order, order.items ?? [], order.payment),
    customer: c ? { id: c.id, username: c.username, email: c.email } : null,
  };
}

/**
 * A stored response (jsonb, which reorders object keys) back in the DTO's own key order,
 * so a replayed response is byte-for-byte the first one.
 */
export function orderDtoFromStored(stored: Record<string, unknown>): OrderDto {
  const o = stored as unknown as OrderDto;
  return {
    id: o.id,
    customerId: o.customerId,
    status: o.status,
    total: o.total,
    // responses stored before orders carried addresses have none
    shippingAddress: o.shippingAddress === undefined || o.shippingAddress === null ? null : addressInOrder(o.shippingAddress),
    billingAddress: o.billingAddress === undefined || o.billingAddress === null ? null : addressInOrder(o.billingAddress),
    items: o.items.map((i) => ({ id: i.id, productId: i.productId, quantity: i.quantity, unitPrice: i.unitPrice, lineTotal: i.lineTotal })),
    payment: o.payment === null ? null : { id: o.payment.id, amount: o.payment.amount, status: o.payment.status, method: o.payment.method },
    version: o.version,
    createdAt: o.createdAt,
    updatedAt: o.updatedAt,
  };
}

function addressInOrder(a: Address): Address {
  return { line1: a.line1, line2: a.line2, city: a.city, region: a.region, postalCode: a.postalCode, country: a.country };
}
