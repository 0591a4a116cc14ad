import { DataTypes, Model, type CreationOptional, type InferAttributes, type InferCreationAttributes, type Sequelize } from 'sequelize';
import { uuidv7 } from './uuidv7.js';

export type AuditAction = 'create' | 'update' | 'delete' | 'restore';

/** The tables whose writes the trail records (the `table` of `GET /v1/audit`). */
export const AUDITED_TABLES = ['users', 'products', 'orders', 'order_items', 'payments', 'comments', 'series_points'] as const;
export type AuditedTable = (typeof AUDITED_TABLES)[number];

/** The trail lists oldest first; `-createdAt` turns it round. */
export const AUDIT_SORTABLE = { createdAt: 'createdAt' } as const;

export class AuditLogRecord extends Model<InferAttributes<AuditLogRecord>, InferCreationAttributes<AuditLogRecord>> {
  declare tenantId: string;
  declare id: CreationOptional<string>;
  declare tableName: string;
  declare recordId: string;
  declare action: AuditAction;
  declare actor: string | null;
  declare oldValues: Record<string, unknown> | null;
  declare newValues: Record<string, unknown> | null;
  declare createdAt: CreationOptional<Date>;
}

export type AuditLogModel = typeof AuditLogRecord;

/** The audit trail; rows are written by model hooks inside the writing transaction. */
export function defineAuditLog(sequelize: Sequelize): AuditLogModel {
  class AuditLog extends AuditLogRecord {}
  AuditLog.init(
    {
      tenantId: { type: DataTypes.TEXT, primaryKey: true, allowNull: false },
      id: { type: DataTypes.UUID, primaryKey: true, defaultValue: () => uuidv7() },
      tableName: { type: DataTypes.TEXT, allowNull: false },
      recordId: { type: DataTypes.TEXT, allowNull: false },
      action: { type: DataTypes.TEXT, allowNull: false },
      actor: { type: DataTypes.TEXT, allowNull: true },
      oldValues: { type: DataTypes.JSONB, allowNull: true },
      newValues: { type: DataTypes.JSONB, allowNull: true },
      createdAt: { type: DataTypes.DATE, allowNull: false },
    },
    {
      sequelize,
      modelName: 'AuditLog',
      tableName: 'audit_log',
      underscored: true,
      timestamps: true,
      updatedAt: false,
      whereMergeStrategy: 'and',
    },
  );
  return AuditLog;
}
