import { DataTypes, Model, type CreationOptional, type InferAttributes, type InferCreationAttributes, type Sequelize } from 'sequelize';

export class IdempotencyKeyRecord extends Model<InferAttributes<IdempotencyKeyRecord>, InferCreationAttributes<IdempotencyKeyRecord>> {
  declare tenantId: string;
  declare key: string;
  declare requestHash: string;
  declare statusCode: number;
  declare response: Record<string, unknown>;
  declare createdAt: CreationOptional<Date>;
  declare expiresAt: Date;
}

export type IdempotencyKeyModel = typeof IdempotencyKeyRecord;

/** The first response to an Idempotency-Key, per tenant, until it expires. */
export function defineIdempotencyKey(sequelize: Sequelize): IdempotencyKeyModel {
  class IdempotencyKey extends IdempotencyKeyRecord {}
  IdempotencyKey.init(
    {
      tenantId: { type: DataTypes.TEXT, primaryKey: true },
      key: { type: DataTypes.TEXT, primaryKey: true },
      requestHash: { type: DataTypes.TEXT, allowNull: false },
      statusCode: { type: DataTypes.INTEGER, allowNull: false },
      response: { type: DataTypes.JSONB, allowNull: false },
      createdAt: { type: DataTypes.DATE, allowNull: false },
      expiresAt: { type: DataTypes.DATE, allowNull: false },
    },
    { sequelize, modelName: 'IdempotencyKey', tableName: 'idempotency_keys', underscored: true, updatedAt: false, whereMergeStrategy: 'and' },
  );
  return IdempotencyKey;
}
