import { DataTypes, Model, type CreationOptional, type InferAttributes, type InferCreationAttributes, type Sequelize } from 'sequelize';
import type { AuditLogModel } from './audit-log.js';
import { attachAuditHooks } from './audit-hooks.js';
import { listScopes, softDelete, tenantKey, versionAndTimestamps } from './model-parts.js';
import { exactJsonb } from './types/exact-jsonb.js';

export class ProductRecord extends Model<InferAttributes<ProductRecord>, InferCreationAttributes<ProductRecord>> {
  declare tenantId: string;
  declare id: CreationOptional<string>;
  declare name: string;
  declare description: CreationOptional<string>;
  /** exact decimal, as PostgreSQL's numeric text ('19.99'): never a float in the database */
  declare price: string;
  declare stock: number;
  /** taken out of stock by an open transfer; only transfers change it (migration 0010) */
  declare reserved: CreationOptional<number>;
  declare categoryId: CreationOptional<string | null>;
  declare isActive: CreationOptional<boolean>;
  /** hstore: flat string → string */
  declare attributes: CreationOptional<Record<string, string>>;
  declare metadata: CreationOptional<Record<string, unknown>>;
  declare version: CreationOptional<number>;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
  declare deletedAt: CreationOptional<Date | null>;
}

export type ProductModel = typeof ProductRecord;

export const PRODUCT_SORTABLE = {
  createdAt: 'createdAt', updatedAt: 'updatedAt', name: 'name', price: 'price', stock: 'stock',
} as const;
export type ProductSortField = keyof typeof PRODUCT_SORTABLE;

export function defineProduct(sequelize: Sequelize, deps: { readonly auditLog: AuditLogModel }): ProductModel {
  class Product extends ProductRecord {}
  Product.init(
    {
      ...tenantKey(),
      name: { type: DataTypes.TEXT, allowNull: false },
      description: { type: DataTypes.TEXT, allowNull: false, defaultValue: '' },
      price: { type: DataTypes.DECIMAL(12, 2), allowNull: false },
      stock: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0, validate: { min: 0 } },
      reserved: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
      categoryId: { type: DataTypes.TEXT, allowNull: true },
      isActive: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: true },
      attributes: { type: DataTypes.HSTORE, allowNull: false, defaultValue: {} },
      metadata: exactJsonb('metadata'),
      ...versionAndTimestamps(),
      ...softDelete(),
    },
    {
      sequelize,
      modelName: 'Product',
      tableName: 'products',
      underscored: true,
      paranoid: true,
      version: true,
      whereMergeStrategy: 'and',
      scopes: { active: { where: { isActive: true } }, ...listScopes(PRODUCT_SORTABLE) },
    },
  );
  attachAuditHooks(Product, deps.auditLog, { table: 'products', omit: [] });
  return Product;
}
