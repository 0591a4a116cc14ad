import { DataTypes, Model, type CreationOptional, type InferAttributes, type InferCreationAttributes, type Sequelize } from 'sequelize';
import { tenantKey } from './common.js';

export class SessionRecord extends Model<InferAttributes<SessionRecord>, InferCreationAttributes<SessionRecord>> {
  declare tenantId: string;
  declare id: CreationOptional<string>;
  declare userId: string;
  declare tokenHash: string;
  declare expiresAt: Date;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

export type SessionModel = typeof SessionRecord;

/** A user's login sessions; removed with the user by its afterDestroy hook. */
export function defineSession(sequelize: Sequelize): SessionModel {
  class Session extends SessionRecord {}
  Session.init(
    {
      ...tenantKey(),
      userId: { type: DataTypes.UUID, allowNull: false },
      tokenHash: { type: DataTypes.TEXT, allowNull: false },
      expiresAt: { type: DataTypes.DATE, allowNull: false },
      createdAt: { type: DataTypes.DATE, allowNull: false },
      updatedAt: { type: DataTypes.DATE, allowNull: false },
    },
    { sequelize, modelName: 'Session', tableName: 'sessions', underscored: true, whereMergeStrategy: 'and' },
  );
  return Session;
}
