import { DataTypes, Model, type CreationOptional, type InferAttributes, type InferCreationAttributes, type Sequelize } from 'sequelize';
import type { PasswordHasher } from './password-hasher.js';
import type { AuditLogModel } from './audit-log.js';
import { attachAuditHooks } from './audit-hooks.js';
import { listScopes, softDelete, tenantKey, versionAndTimestamps } from './model-parts.js';
import type { Keyring } from './types/keyring.js';
import { EncryptedColumns, type FieldIntegrityAlarm } from './types/encrypted-columns.js';
import { exactJsonb } from './types/exact-jsonb.js';
import type { Address } from './values/address.js';
import { ADDRESS } from './values/address.js';
import { embeddedValue, type EmbeddedParts } from './values/embedded-value.js';

// the address's part attributes (address_line1 …), typed from the value object
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type
export interface UserRecord extends EmbeddedParts<Address, 'address'> {}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class UserRecord extends Model<InferAttributes<UserRecord>, InferCreationAttributes<UserRecord>> {
  declare tenantId: string;
  declare id: CreationOptional<string>;
  declare username: string;
  declare email: string;
  /** plaintext, only on its way in: hashed by a hook into passwordHash, never stored */
  declare password: CreationOptional<string | undefined>;
  declare passwordHash: CreationOptional<string>;
  /** encrypted at rest (AES-256-GCM, sealed to its tenant, table, column and row); plaintext only in memory */
  declare taxId: CreationOptional<string | null>;
  declare isActive: CreationOptional<boolean>;
  declare metadata: CreationOptional<Record<string, unknown>>;
  /** a value object embedded as address_* columns; null when absent */
  declare address: CreationOptional<Address | null>;
  declare version: CreationOptional<number>;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
  declare deletedAt: CreationOptional<Date | null>;
}

export type UserModel = typeof UserRecord;

/** Columns a list may sort by: the API name to the attribute. Anything else is refused. */
export const USER_SORTABLE = { createdAt: 'createdAt', updatedAt: 'updatedAt', username: 'username', email: 'email' } as const;
export type UserSortField = keyof typeof USER_SORTABLE;

export interface UserModelDeps {
  readonly hasher: PasswordHasher;
  readonly keyring: Keyring;
  readonly integrityAlarm: FieldIntegrityAlarm;
  readonly auditLog: AuditLogModel;
}


/** The users columns stored sealed (attribute → column): a restore into another tenant reseals them. */
export const USER_SEALED_COLUMNS = { taxId: 'tax_id' } as const;

export function defineUser(sequelize: Sequelize, deps: UserModelDeps): UserModel {
  class User extends UserRecord {}
  const encrypted = new EncryptedColumns(deps.keyring, { table: 'users', columns: USER_SEALED_COLUMNS }, deps.integrityAlarm);
  User.init(
    {
      ...tenantKey(),
      username: { type: DataTypes.TEXT, allowNull: false },
      email: { type: DataTypes.TEXT, allowNull: false },
      password: { type: DataTypes.VIRTUAL },
      // nullable here only so validation (which runs before beforeSave) passes; NOT NULL in the table
      passwordHash: { type: DataTypes.TEXT, allowNull: true },
      ...encrypted.attributes(),
      isActive: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: true },
      metadata: exactJsonb('metadata'),
      ...embeddedValue(ADDRESS, 'address', 'address'),
      ...versionAndTimestamps(),
      ...softDelete(),
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
      scopes: { active: { where: { isActive: true } }, ...listScopes(USER_SORTABLE) },
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

  encrypted.attach(User);
  attachAuditHooks(User, deps.auditLog, { table: 'users', omit: ['password', 'passwordHash', 'taxId'] });
  return User;
}
