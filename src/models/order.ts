import { DataTypes, Model, type CreationOptional, type InferAttributes, type InferCreationAttributes, type Sequelize } from 'sequelize';
import type { AuditLogModel } from './audit-log.js';
import { attachAuditHooks } from './audit-hooks.js';
import { listScopes, tenantKey, versionAndTimestamps } from './model-parts.js';
import { ADDRESS, type Address } from './values/address.js';
import { embeddedValue, type EmbeddedParts } from './values/embedded-value.js';

export type OrderStatus = 'pending' | 'confirmed' | 'cancelled';

export class OrderItemRecord extends Model<InferAttributes<OrderItemRecord>, InferCreationAttributes<OrderItemRecord>> {
  declare tenantId: string;
  declare id: CreationOptional<string>;
  declare orderId: string;
  declare productId: string;
  declare quantity: number;
  declare unitPrice: string;
  declare lineTotal: string;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

// the addresses' part attributes (shipping_city …), typed from the value object
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface OrderRecord extends EmbeddedParts<Address, 'shipping'>, EmbeddedParts<Address, 'billing'> {}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class OrderRecord extends Model<InferAttributes<OrderRecord>, InferCreationAttributes<OrderRecord>> {
  declare tenantId: string;
  declare id: CreationOptional<string>;
  declare customerId: string;
  declare status: OrderStatus;
  declare total: string;
  /** value objects embedded as shipping_* and billing_* columns */
  declare shippingAddress: CreationOptional<Address | null>;
  declare billingAddress: CreationOptional<Address | null>;
  declare version: CreationOptional<number>;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
  declare items?: OrderItemRecord[];
}

export class PaymentRecord extends Model<InferAttributes<PaymentRecord>, InferCreationAttributes<PaymentRecord>> {
  declare tenantId: string;
  declare id: CreationOptional<string>;
  declare orderId: string;
  declare amount: string;
  declare status: 'captured' | 'failed';
  declare method: string;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

export type OrderModel = typeof OrderRecord;
export type OrderItemModel = typeof OrderItemRecord;
export type PaymentModel = typeof PaymentRecord;

export const ORDER_SORTABLE = { createdAt: 'createdAt', total: 'total' } as const;

export function defineOrders(sequelize: Sequelize, deps: { readonly auditLog: AuditLogModel }): { Order: OrderModel; OrderItem: OrderItemModel; Payment: PaymentModel } {
  class Order extends OrderRecord {}
  Order.init(
    {
      ...tenantKey(),
      customerId: { type: DataTypes.UUID, allowNull: false },
      status: { type: DataTypes.TEXT, allowNull: false, validate: { isIn: [['pending', 'confirmed', 'cancelled']] } },
      total: { type: DataTypes.DECIMAL(14, 2), allowNull: false },
      ...embeddedValue(ADDRESS, 'shippingAddress', 'shipping'),
      ...embeddedValue(ADDRESS, 'billingAddress', 'billing'),
      ...versionAndTimestamps(),
    },
    {
      sequelize, modelName: 'Order', tableName: 'orders', underscored: true, version: true, whereMergeStrategy: 'and',
      scopes: { ...listScopes(ORDER_SORTABLE) },
    },
  );

  class OrderItem extends OrderItemRecord {}
  OrderItem.init(
    {
      ...tenantKey(),
      orderId: { type: DataTypes.UUID, allowNull: false },
      productId: { type: DataTypes.UUID, allowNull: false },
      quantity: { type: DataTypes.INTEGER, allowNull: false, validate: { min: 1 } },
      unitPrice: { type: DataTypes.DECIMAL(12, 2), allowNull: false },
      lineTotal: { type: DataTypes.DECIMAL(14, 2), allowNull: false },
      createdAt: { type: DataTypes.DATE, allowNull: false },
      updatedAt: { type: DataTypes.DATE, allowNull: false },
    },
    { sequelize, modelName: 'OrderItem', tableName: 'order_items', underscored: true, whereMergeStrategy: 'and' },
  );

  class Payment extends PaymentRecord {}
  Payment.init(
    {
      ...tenantKey(),
      orderId: { type: DataTypes.UUID, allowNull: false },
      amount: { type: DataTypes.DECIMAL(14, 2), allowNull: false },
      status: { type: DataTypes.TEXT, allowNull: false },
      method: { type: DataTypes.TEXT, allowNull: false },
      createdAt: { type: DataTypes.DATE, allowNull: false },
      updatedAt: { type: DataTypes.DATE, allowNull: false },
    },
    { sequelize, modelName: 'Payment', tableName: 'payments', underscored: true, whereMergeStrategy: 'and' },
  );

  // ids are globally unique UUIDs, so joining on id alone is exact; queries still filter
  // tenant_id on every table so each join uses the tenant-led indexes. The keys are named:
  // Sequelize's default is the first primary-key attribute, tenant_id, which joined
  // order_id to tenant_id
  Order.hasMany(OrderItem, { foreignKey: 'orderId', sourceKey: 'id', as: 'items', constraints: false });
  OrderItem.belongsTo(Order, { foreignKey: 'orderId', targetKey: 'id', as: 'order', constraints: false });
  Order.hasOne(Payment, { foreignKey: 'orderId', sourceKey: 'id', as: 'payment', constraints: false });

  attachAuditHooks(Order, deps.auditLog, { table: 'orders', omit: [] });
  attachAuditHooks(OrderItem, deps.auditLog, { table: 'order_items', omit: [] });
  attachAuditHooks(Payment, deps.auditLog, { table: 'payments', omit: [] });
  return { Order, OrderItem, Payment };
}
