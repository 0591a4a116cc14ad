import {
  DataTypes, Model, type CreationOptional, type FindOptions, type HasManyCountAssociationsMixin, type HasManyCreateAssociationMixin,
  type HasManyGetAssociationsMixin, type InferAttributes, type InferCreationAttributes, type ModelStatic, type Sequelize,
} from 'sequelize';
import type { AuditLogModel } from './audit-log.js';
import { attachAuditHooks } from './audit-hooks.js';
import { listScopes, softDelete, tenantKey, versionAndTimestamps } from './model-parts.js';
import type { OrderModel, OrderRecord } from './order.js';
import type { ProductModel, ProductRecord } from './product.js';
import type { UserModel, UserRecord } from './user.js';

/** What a comment may be about: the polymorphic association's types. */
export const COMMENT_SUBJECT_TYPES = ['user', 'product', 'order'] as const;
export type CommentSubjectType = (typeof COMMENT_SUBJECT_TYPES)[number];
export type CommentSubject = UserRecord | ProductRecord | OrderRecord;

export const COMMENT_SORTABLE = { createdAt: 'createdAt' } as const;
export const COMMENT_BODY_MAX = 10_000;

export class CommentRecord extends Model<InferAttributes<CommentRecord>, InferCreationAttributes<CommentRecord>> {
  declare tenantId: string;
  declare id: CreationOptional<string>;
  declare subjectType: CommentSubjectType;
  declare subjectId: string;
  declare body: string;
  /** the subject's soft delete, mirrored by a trigger: set, the comment is hidden with it */
  declare subjectDeletedAt: CreationOptional<Date | null>;
  declare version: CreationOptional<number>;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
  declare deletedAt: CreationOptional<Date | null>;

  /** The user, product or order this comment is about (through the association its type names). */
  getSubject(options: FindOptions = {}): Promise<CommentSubject | null> {
    const getter = `get${this.subjectType.charAt(0).toUpperCase()}${this.subjectType.slice(1)}` as const;
    return (this as unknown as Record<string, (o: FindOptions) => Promise<CommentSubject | null>>)[getter]!(options);
  }
}

export type CommentModel = typeof CommentRecord;

/** What a commentable model gains from the association (`product.getComments()`, …). */
export interface Commentable {
  getComments: HasManyGetAssociationsMixin<CommentRecord>;
  countComments: HasManyCountAssociationsMixin;
  createComment: HasManyCreateAssociationMixin<CommentRecord, 'subjectId' | 'subjectType'>;
}

export interface CommentSubjectModels {
  readonly user: UserModel;
  readonly product: ProductModel;
  readonly order: OrderModel;
}

/**
 * Comments on users, products and orders: one table, one polymorphic association. Each
 * subject model `hasMany` comments scoped to its type (so `getComments` / `createComment`
 * set and filter `subject_type`); a comment `belongsTo` each of them under the type's
 * name, and `getSubject()` follows the one its `subjectType` names. Keys are ids alone
 * (UUIDs, unique across tenants and tables); queries still name the tenant.
 */
export function defineComment(sequelize: Sequelize, deps: { readonly auditLog: AuditLogModel; readonly subjects: CommentSubjectModels }): CommentModel {
  class Comment extends CommentRecord {}
  Comment.init(
    {
      ...tenantKey(),
      subjectType: { type: DataTypes.TEXT, allowNull: false, validate: { isIn: [[...COMMENT_SUBJECT_TYPES]] } },
      subjectId: { type: DataTypes.UUID, allowNull: false },
      body: { type: DataTypes.TEXT, allowNull: false, validate: { len: [1, COMMENT_BODY_MAX] } },
      subjectDeletedAt: { type: DataTypes.DATE, allowNull: true },
      ...versionAndTimestamps(),
      ...softDelete(),
    },
    {
      sequelize,
      modelName: 'Comment',
      tableName: 'comments',
      underscored: true,
      paranoid: true,
      version: true,
      whereMergeStrategy: 'and',
      scopes: {
        // a comment whose subject is soft-deleted is hidden with it
        visible: { where: { subjectDeletedAt: null } },
        ...listScopes(COMMENT_SORTABLE),
      },
    },
  );

  for (const type of COMMENT_SUBJECT_TYPES) {
    const subject = deps.subjects[type] as ModelStatic<Model>;
    subject.hasMany(Comment, { foreignKey: 'subjectId', sourceKey: 'id', constraints: false, scope: { subjectType: type }, as: 'comments' });
    Comment.belongsTo(subject, { foreignKey: 'subjectId', targetKey: 'id', constraints: false, as: type });
  }

  attachAuditHooks(Comment, deps.auditLog, { table: 'comments', omit: ['subjectDeletedAt'] });
  return Comment;
}
