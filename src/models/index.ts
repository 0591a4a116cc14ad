import type { Sequelize } from 'sequelize';
import { defineAuditLog, type AuditLogModel } from './audit-log.js';
import { defineUser, type UserModel } from './user.js';
import { defineUserLogin, type UserLoginModel } from './user-login.js';
import { defineProduct, type ProductModel } from './product.js';
import { defineOrders, type OrderItemModel, type OrderModel, type PaymentModel } from './order.js';
import { defineIdempotencyKey, type IdempotencyKeyModel } from './idempotency-key.js';
import { defineComment, type CommentModel } from './comment.js';
import type { PasswordHasher } from './password-hasher.js';
import type { Keyring } from './types/keyring.js';
import type { FieldIntegrityAlarm } from './types/encrypted-columns.js';
import type { AuditedWriteOptions } from './audit-hooks.js';

/** The models bound to one node's Sequelize instance (one set per primary and per replica). */
export interface ShardModels {
  readonly AuditLog: AuditLogModel;
  readonly User: UserModel;
  readonly UserLogin: UserLoginModel;
  readonly Product: ProductModel;
  readonly Order: OrderModel;
  readonly OrderItem: OrderItemModel;
  readonly Payment: PaymentModel;
  readonly IdempotencyKey: IdempotencyKeyModel;
  readonly Comment: CommentModel;
}

export interface ModelDeps {
  readonly hasher: PasswordHasher;
  readonly keyring: Keyring;
  /** told of every encrypted value that fails to open at its place (logged as an alarm) */
  readonly integrityAlarm: FieldIntegrityAlarm;
}

export function defineShardModels(sequelize: Sequelize, deps: ModelDeps): ShardModels {
  const AuditLog = defineAuditLog(sequelize);
  const User = defineUser(sequelize, { hasher: deps.hasher, keyring: deps.keyring, integrityAlarm: deps.integrityAlarm, auditLog: AuditLog });
  const UserLogin = defineUserLogin(sequelize);
  const Product = defineProduct(sequelize, { auditLog: AuditLog });
  const { Order, OrderItem, Payment } = defineOrders(sequelize, { auditLog: AuditLog });
  const IdempotencyKey = defineIdempotencyKey(sequelize);
  const Comment = defineComment(sequelize, { auditLog: AuditLog, subjects: { user: User, product: Product, order: Order } });

  // keys named explicitly: Sequelize defaults to the first primary-key attribute (tenant_id)
  User.hasMany(Order, { foreignKey: 'customerId', sourceKey: 'id', as: 'orders', constraints: false });
  Order.belongsTo(User, { foreignKey: 'customerId', targetKey: 'id', as: 'customer', constraints: false });
  OrderItem.belongsTo(Product, { foreignKey: 'productId', targetKey: 'id', as: 'product', constraints: false });
  User.hasMany(UserLogin, { foreignKey: 'userId', sourceKey: 'id', as: 'logins', constraints: false });

  // eager-load a customer's orders of one status, each with its items
  User.addScope('withOrders', (status?: string) => ({
    include: [{ model: Order, as: 'orders', required: false, ...(status ? { where: { status } } : {}), include: [{ model: OrderItem, as: 'items' }] }],
  }));

  // a user's logins go with it (soft delete included: a deleted user cannot stay logged in)
  User.addHook('afterDestroy', 'logins', async (user: InstanceType<UserModel>, options: AuditedWriteOptions) => {
    await UserLogin.destroy({ where: { tenantId: user.tenantId, userId: user.id }, transaction: options.transaction ?? null });
  });

  return { AuditLog, User, UserLogin, Product, Order, OrderItem, Payment, IdempotencyKey, Comment };
}

export { uuidv7, UUID_PATTERN } from './uuidv7.js';
export { PasswordHasher } from './password-hasher.js';
export { Keyring } from './types/keyring.js';
export type { FieldIntegrityAlarm } from './types/encrypted-columns.js';
export type { UserRecord, UserModel, UserSortField } from './user.js';
export { USER_SORTABLE } from './user.js';
import { USER_SEALED_COLUMNS } from './user.js';
/** Every sealed (encrypted) column, by table: what must be rebound when rows change tenant. */
export const SEALED_COLUMNS: Readonly<Record<string, readonly string[]>> = { users: Object.values(USER_SEALED_COLUMNS) };
export type { ProductRecord, ProductModel, ProductSortField } from './product.js';
export { PRODUCT_SORTABLE } from './product.js';
export type { OrderRecord, OrderItemRecord, PaymentRecord, OrderStatus } from './order.js';
export type { AuditLogModel, AuditLogRecord, AuditAction, AuditedTable } from './audit-log.js';
export { AUDITED_TABLES, AUDIT_SORTABLE } from './audit-log.js';
export { audited, writeAuditRows, type AuditEntry } from './audit-hooks.js';
export { ADDRESS, addressInput, countryCode, type Address } from './values/address.js';
export { embeddedAttributes } from './values/embedded-value.js';
export type { CommentRecord, CommentModel, CommentSubject, CommentSubjectType, Commentable } from './comment.js';
export { COMMENT_SUBJECT_TYPES, COMMENT_SORTABLE, COMMENT_BODY_MAX } from './comment.js';
