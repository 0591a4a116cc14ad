import {
  DataTypes, Model, Op, type CreationOptional, type InferAttributes, type InferCreationAttributes, type Sequelize,
} from 'sequelize';
import { uuidv7 } from './uuid7.js';
import type { PasswordHasher } from './password.js';
import type { AuditLogModel } from './audit-log.js';
import { attachAuditHooks } from './audit-hooks.js';

export class UserRecord extends Model<InferAttributes<UserRecord>, InferCreationAttributes<UserRecord>> {
  declare tenantId: string;
  declare id: CreationOptional<string>;
  declare username: string;
  declare email: string;
  /** plaintext, only on its way in: hashed by a hook into passwordHash, never stored */
  declare password: CreationOptional<string | undefined>;
  declare passwordHash: CreationOptional<string>;
  declare isActive: CreationOptional<boolean>;
  declare metadata: CreationOptional<Record<string, unknown>>;
  declare version: CreationOptional<number>;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
  declare deletedAt: CreationOptional<Date | null>;
}

export type UserModel = typeof UserRecord;

/** Columns a list may sort by: the API name to the attribute. Anything else is refused. */
export const USER_SORTABLE = {
  createdAt: 'createdAt',
  updatedAt: 'updatedAt',
  username: 'username',
  email: 'email',
} as const;
export type UserSortField = keyof typeof USER_SORTABLE;

export interface UserModelDeps {
  readonly hasher: PasswordHasher;
  readonly auditLog: AuditLogModel;
}

export function defineUser(sequelize: Sequelize, deps: UserModelDeps): UserModel {
  class User extends UserRecord {}
  User.init(
    {
      tenantId: { type: DataTypes.TEXT, primaryKey: true, allowNull: false },
      id: { type: DataTypes.UUID, primaryKey: true, defaultValue: () => uuidv7() },
      username: { type: DataTypes.TEXT, allowNull: false },
      email: { type: DataTypes.TEXT, allowNull: false },
      password: { type: DataTypes.VIRTUAL },
      // nullable here only so validation (which runs before beforeSave) passes; NOT NULL in the table
      passwordHash: { type: DataTypes.TEXT, allowNull: true },
      isActive: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: true },
      metadata: { type: DataTypes.JSONB, allowNull: false, defaultValue: {} },
      // declared explicitly (with a default) so `version: true` keeps working: a bare
      // attribute would replace the built-in counter and read NaN
      version: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
      createdAt: { type: DataTypes.DATE, allowNull: false },
      updatedAt: { type: DataTypes.DATE, allowNull: false },
      deletedAt: { type: DataTypes.DATE, allowNull: true },
    },
    {
      sequelize,
      modelName: 'User',
      tableName: 'users',
      underscored: true,
      paranoid: true,
      version: true,
      // scopes AND their where clauses with the query's instead of overwriting keys
      whereMergeStrategy: 'and',
      scopes: {
        active: { where: { isActive: true } },
        createdBetween: (from?: Date, to?: Date) => {
          const range: Record<symbol, Date> = {};
          if (from) range[Op.gte] = from;
          if (to) range[Op.lt] = to;
          return Object.getOwnPropertySymbols(range).length === 0 ? {} : { where: { createdAt: range } };
        },
        paginate: (page: number, pageSize: number) => ({ limit: pageSize, offset: (page - 1) * pageSize }),
        orderBy: (field: UserSortField, direction: 'ASC' | 'DESC') => {
          const attribute = USER_SORTABLE[field];
          if (attribute === undefined) throw new Error(`unsortable field ${String(field)}`);
          // id breaks ties so pages are stable
          return { order: [[attribute, direction], ['id', direction]] };
        },
      },
    },
  );

  // Hashed in beforeSave (not beforeValidate): Sequelize adds attributes changed by
  // beforeSave hooks to the UPDATE's column list, but not ones changed during validation.
  User.addHook('beforeSave', 'password', async (user: UserRecord) => {
    if (user.changed('password') && typeof user.password === 'string') {
      user.passwordHash = await deps.hasher.hash(user.password);
      user.password = undefined;
    }
    if (!user.passwordHash) throw new Error('a user needs a password');
  });

  attachAuditHooks(User, deps.auditLog, { table: 'users', omit: ['password', 'passwordHash'] });
  return User;
}
