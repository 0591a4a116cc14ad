import type { Sequelize } from 'sequelize';
import { defineAuditLog, type AuditLogModel } from './audit-log.js';
import { defineUser, type UserModel } from './user.js';
import type { PasswordHasher } from './password.js';

/** The models bound to one node's Sequelize instance (one set per primary and per replica). */
export interface ShardModels {
  readonly AuditLog: AuditLogModel;
  readonly User: UserModel;
}

export interface ModelDeps {
  readonly hasher: PasswordHasher;
}

export function defineShardModels(sequelize: Sequelize, deps: ModelDeps): ShardModels {
  const AuditLog = defineAuditLog(sequelize);
  const User = defineUser(sequelize, { hasher: deps.hasher, auditLog: AuditLog });
  return { AuditLog, User };
}

export { uuidv7, UUID_PATTERN } from './uuid7.js';
export { PasswordHasher } from './password.js';
export type { UserRecord, UserModel, UserSortField } from './user.js';
export { USER_SORTABLE } from './user.js';
export type { AuditLogModel, AuditLogRecord } from './audit-log.js';
export { audited } from './audit-hooks.js';
