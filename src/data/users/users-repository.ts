import { Op, type WhereOptions } from 'sequelize';
import { audited, USER_SORTABLE, type Address, type UserRecord, type UserSortField } from '../../models/index.js';
import { NotFoundError } from '../../errors/errors.js';
import type { TenantSession } from '../tenant-session.js';
import { VersionedRecords, type VersionedResource } from '../versioned-records.js';
import { ListPager, type ListPage, type ListQuery } from '../list-page.js';

export interface UserDto {
  readonly id: string;
  readonly username: string;
  readonly email: string;
  readonly taxId: string | null;
  readonly isActive: boolean;
  readonly metadata: Record<string, unknown>;
  readonly address: Address | null;
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
  readonly address?: Address | null | undefined;
}

export type UpdateUserInput = Partial<CreateUserInput>;

export interface UserListQuery extends ListQuery<UserSortField> {
  readonly active?: boolean | undefined;
  readonly createdFrom?: Date | undefined;
  readonly createdTo?: Date | undefined;
}

/** unique index → the API field it guards, for 409s that name the field */
const UNIQUE_FIELDS = { users_tenant_username_live: 'username', users_tenant_email_live: 'email' } as const;

export function toUserDto(user: UserRecord): UserDto {
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    taxId: user.taxId ?? null,
    isActive: user.isActive,
    metadata: user.metadata,
    address: user.address,
    version: user.version,
    createdAt: user.createdAt.toISOString(),
    updatedAt: user.updatedAt.toISOString(),
  };
}

/**
 * A tenant's users. Every query names tenant_id explicitly; scopes are a convenience on
 * top, never the isolation boundary. Writes run in a transaction so the audit row commits
 * or rolls back with the change.
 */
export class UsersRepository extends VersionedRecords<UserRecord, UserDto> implements VersionedResource<UserDto, CreateUserInput, UpdateUserInput> {
  constructor() {
    super({ what: 'user', model: (node) => node.models.User, toDto: toUserDto, uniqueFields: UNIQUE_FIELDS });
  }

  async create(session: TenantSession, input: CreateUserInput): Promise<UserDto> {
    return session.transaction(
      async (transaction, node) => {
        const user = await node.models.User.create(
          {
            tenantId: session.tenantId,
            username: input.username,
            email: input.email,
            password: input.password,
            taxId: input.taxId ?? null,
            isActive: input.isActive ?? true,
            metadata: input.metadata ?? {},
            address: input.address ?? null,
          },
          audited(transaction, session.actor),
        );
        return toUserDto(user);
      },
      { uniqueFields: UNIQUE_FIELDS },
    );
  }

  async get(session: TenantSession, id: string): Promise<UserDto> {
    const user = await session.readModels((transaction, node) => node.models.User.findOne({ where: { tenantId: session.tenantId, id }, transaction }));
    if (!user) throw new NotFoundError('user', id);
    return toUserDto(user);
  }

  async list(session: TenantSession, q: UserListQuery): Promise<ListPage<UserDto>> {
    const pager = new ListPager(q, USER_SORTABLE[q.sort.field]);
    const conditions: WhereOptions[] = [{ tenantId: session.tenantId }];
    if (q.active !== undefined) conditions.push({ isActive: q.active });
    const created = { method: ['createdBetween', q.createdFrom, q.createdTo] } as const;
    return session.readModels(async (transaction, node) => {
      const rows = await node.models.User.scope([created, { method: ['orderBy', q.sort.field, q.sort.direction] }]).findAll({
        where: pager.where(conditions),
        limit: pager.limit,
        offset: pager.offset,
        transaction,
      });
      const total = pager.wantsTotal ? await node.models.User.scope([created]).count({ where: { [Op.and]: conditions }, transaction }) : undefined;
      return pager.page(rows.map(toUserDto), (u) => u[q.sort.field], total);
    });
  }

}
