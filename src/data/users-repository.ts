import type { Transaction } from 'sequelize';
import type { ShardNode } from '../cluster/shard-node.js';
import { audited, type UserRecord, type UserSortField } from '../models/index.js';
import { NotFoundError, VersionMismatchError } from '../errors/errors.js';
import { read, write } from './transactions.js';

export interface UserDto {
  readonly id: string;
  readonly username: string;
  readonly email: string;
  readonly taxId: string | null;
  readonly isActive: boolean;
  readonly metadata: Record<string, unknown>;
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface CreateUserInput {
  readonly username: string;
  readonly email: string;
  readonly password: string;
  readonly taxId?: string | null | undefined;
  readonly isActive?: boolean | undefined;
  readonly metadata?: Record<string, unknown> | undefined;
}

export type UpdateUserInput = Partial<CreateUserInput>;

export interface UserListQuery {
  readonly page: number;
  readonly pageSize: number;
  readonly active?: boolean | undefined;
  readonly createdFrom?: Date | undefined;
  readonly createdTo?: Date | undefined;
  readonly sort: { readonly field: UserSortField; readonly direction: 'ASC' | 'DESC' };
}

export interface Page<T> {
  readonly items: T[];
  readonly page: number;
  readonly pageSize: number;
  readonly total: number;
}

/** unique index → the API field it guards, for 409s that name the field */
const UNIQUE_FIELDS = { users_tenant_username_live: 'username', users_tenant_email_live: 'email' } as const;

function writeUser<T>(node: ShardNode, work: (t: Transaction) => Promise<T>): Promise<T> {
  return write(node, work, UNIQUE_FIELDS);
}

export function toUserDto(user: UserRecord): UserDto {
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    taxId: user.taxId ?? null,
    isActive: user.isActive,
    metadata: user.metadata,
    version: user.version,
    createdAt: user.createdAt.toISOString(),
    updatedAt: user.updatedAt.toISOString(),
  };
}

/**
 * Users of one tenant on one node. Every query names tenant_id explicitly; scopes are a
 * convenience on top, never the isolation boundary. Writes run in a transaction so the
 * audit row commits or rolls back with the change.
 */
export class UsersRepository {
  async create(node: ShardNode, tenantId: string, input: CreateUserInput, actor: string): Promise<UserDto> {
    return writeUser(node, async (transaction) => {
      const user = await node.models.User.create(
        {
          tenantId,
          username: input.username,
          email: input.email,
          password: input.password,
          taxId: input.taxId ?? null,
          isActive: input.isActive ?? true,
          metadata: input.metadata ?? {},
        },
        audited(transaction, actor),
      );
      return toUserDto(user);
    });
  }

  async get(node: ShardNode, tenantId: string, id: string): Promise<UserDto> {
    const user = await read(node, () => node.models.User.findOne({ where: { tenantId, id } }));
    if (!user) throw new NotFoundError('user', id);
    return toUserDto(user);
  }

  async list(node: ShardNode, tenantId: string, q: UserListQuery): Promise<Page<UserDto>> {
    const scopes: Array<string | { method: [string, ...unknown[]] }> = [
      { method: ['createdBetween', q.createdFrom, q.createdTo] },
      { method: ['orderBy', q.sort.field, q.sort.direction] },
      { method: ['paginate', q.page, q.pageSize] },
    ];
    const where: Record<string, unknown> = { tenantId };
    if (q.active !== undefined) where.isActive = q.active;
    const { rows, count } = await read(node, () => node.models.User.scope(scopes).findAndCountAll({ where }));
    return { items: rows.map(toUserDto), page: q.page, pageSize: q.pageSize, total: count };
  }

  async update(node: ShardNode, tenantId: string, id: string, patch: UpdateUserInput, expectedVersion: number | undefined, actor: string): Promise<UserDto> {
    return writeUser(node, async (transaction) => {
      const user = await node.models.User.findOne({ where: { tenantId, id }, transaction, lock: transaction.LOCK.UPDATE });
      if (!user) throw new NotFoundError('user', id);
      if (expectedVersion !== undefined && user.version !== expectedVersion) throw new VersionMismatchError(expectedVersion, user.version);
      user.set(patch);
      if (user.changed() !== false) await user.save(audited(transaction, actor));
      return toUserDto(user);
    });
  }

  async remove(node: ShardNode, tenantId: string, id: string, actor: string): Promise<void> {
    await writeUser(node, async (transaction) => {
      const user = await node.models.User.findOne({ where: { tenantId, id }, transaction, lock: transaction.LOCK.UPDATE });
      if (!user) throw new NotFoundError('user', id);
      await user.destroy(audited(transaction, actor));
    });
  }

  /** Brings back a soft-deleted user; restoring a live one is a no-op that returns it. */
  async restore(node: ShardNode, tenantId: string, id: string, actor: string): Promise<UserDto> {
    return writeUser(node, async (transaction) => {
      const user = await node.models.User.findOne({ where: { tenantId, id }, paranoid: false, transaction, lock: transaction.LOCK.UPDATE });
      if (!user) throw new NotFoundError('user', id);
      if (user.deletedAt !== null) await user.restore(audited(transaction, actor));
      return toUserDto(user);
    });
  }
}
