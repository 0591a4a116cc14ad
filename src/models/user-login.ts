import { DataTypes, Model, type CreationOptional, type InferAttributes, type InferCreationAttributes, type Sequelize } from 'sequelize';
import { tenantKey } from './model-parts.js';

export class UserLoginRecord extends Model<InferAttributes<UserLoginRecord>, InferCreationAttributes<UserLoginRecord>> {
  declare tenantId: string;
  declare id: CreationOptional<string>;
  declare userId: string;
  declare tokenHash: string;
  declare expiresAt: Date;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

export type UserLoginModel = typeof UserLoginRecord;

/**
 * A user's logins (a token hash and its expiry; table `sessions`), removed with the user
 * by its afterDestroy hook. Named "login" in the code: "session" is the request's TenantSession.
 */
export function defineUserLogin(sequelize: Sequelize): UserLoginModel {
  class UserLogin extends UserLoginRecord {}
  UserLogin.init(
    {
      ...tenantKey(),
      userId: { type: DataTypes.UUID, allowNull: false },
      tokenHash: { type: DataTypes.TEXT, allowNull: false },
      expiresAt: { type: DataTypes.DATE, allowNull: false },
      createdAt: { type: DataTypes.DATE, allowNull: false },
      updatedAt: { type: DataTypes.DATE, allowNull: false },
    },
    { sequelize, modelName: 'UserLogin', tableName: 'sessions', underscored: true, whereMergeStrategy: 'and' },
  );
  return UserLogin;
}
