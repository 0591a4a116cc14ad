import { Op, type Model, type ModelStatic, type Transaction, type WhereOptions } from 'sequelize';
import type { ShardNode } from '../../cluster/shard-node.js';
import { audited, type CommentRecord, type CommentSubjectType, type Commentable } from '../../models/index.js';
import { NotFoundError } from '../../errors/errors.js';
import type { TenantSession } from '../tenant-session.js';
import { VersionedRecords } from '../versioned-records.js';
import { ListPager, type ListPage, type ListQuery } from '../list-page.js';

export interface CommentDto {
  readonly id: string;
  readonly subjectType: CommentSubjectType;
  readonly subjectId: string;
  readonly body: string;
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** A comment as the tenant-wide list shows it: with what it is about. */
export interface CommentWithSubjectDto extends CommentDto {
  readonly subject: { readonly type: CommentSubjectType; readonly id: string; readonly label: string } | null;
}

export interface CommentListQuery extends ListQuery<'createdAt'> {
  readonly subjectType?: CommentSubjectType | undefined;
}

/** the attribute that names a subject in a list: a user's username, a product's name, an order's status */
const SUBJECT_LABEL: Readonly<Record<CommentSubjectType, string>> = { user: 'username', product: 'name', order: 'status' };

type SubjectRow = Model & Commentable & { id: string };

function subjectModel(node: ShardNode, type: CommentSubjectType): ModelStatic<SubjectRow> {
  const models = { user: node.models.User, product: node.models.Product, order: node.models.Order };
  return models[type] as unknown as ModelStatic<SubjectRow>;
}

export function toCommentDto(comment: CommentRecord): CommentDto {
  return {
    id: comment.id,
    subjectType: comment.subjectType,
    subjectId: comment.subjectId,
    body: comment.body,
    version: comment.version,
    createdAt: comment.createdAt.toISOString(),
    updatedAt: comment.updatedAt.toISOString(),
  };
}

/**
 * Comments on a tenant's users, products and orders, through the polymorphic association:
 * created with `subject.createComment`, read with `subject.getComments`, and the
 * tenant-wide list loads its page's subjects in one query per subject type, whatever the
 * page size. A soft-deleted subject (or a missing or other tenant's one) is a 404, and its
 * comments are hidden until it is restored (`subject_deleted_at`, kept by a trigger).
 * Edits, soft delete and restore are the versioned-record ones, on visible comments.
 */
export class CommentsRepository extends VersionedRecords<CommentRecord, CommentDto> {
  constructor() {
    super({ what: 'comment', model: (node) => node.models.Comment.scope('visible'), toDto: toCommentDto });
  }

  async create(session: TenantSession, subjectType: CommentSubjectType, subjectId: string, body: string): Promise<CommentDto> {
    return session.transaction(async (transaction, node) => {
      // FOR SHARE: the subject cannot be soft-deleted between this check and COMMIT
      const subject = await this.#subject(node, transaction, session.tenantId, subjectType, subjectId, true);
      const comment = await subject.createComment({ tenantId: session.tenantId, body }, audited(transaction, session.actor));
      return toCommentDto(comment);
    });
  }

  async get(session: TenantSession, id: string): Promise<CommentWithSubjectDto> {
    return session.readModels(async (transaction, node) => {
      const comment = await node.models.Comment.scope('visible').findOne({ where: { tenantId: session.tenantId, id }, transaction });
      if (!comment) throw new NotFoundError('comment', id);
      const subject = (await comment.getSubject({ where: { tenantId: session.tenantId }, transaction })) as (Model & { id: string }) | null;
      const label = subject === null ? undefined : String(subject.get(SUBJECT_LABEL[comment.subjectType]));
      return { ...toCommentDto(comment), subject: label === undefined ? null : { type: comment.subjectType, id: comment.subjectId, label } };
    });
  }

  /** One subject's comments, oldest first. */
  async listForSubject(session: TenantSession, subjectType: CommentSubjectType, subjectId: string, q: ListQuery<'createdAt'>): Promise<ListPage<CommentDto>> {
    const { tenantId } = session;
    return session.readModels(async (transaction, node) => {
      const subject = await this.#subject(node, transaction, tenantId, subjectType, subjectId, false);
      const pager = new ListPager(q, 'createdAt');
      const rows = await subject.getComments({ where: pager.where([{ tenantId }]), order: pager.order, limit: pager.limit, offset: pager.offset, transaction });
      const total = pager.wantsTotal ? await subject.countComments({ where: { tenantId }, transaction }) : undefined;
      return pager.page(rows.map(toCommentDto), (c) => c.createdAt, total);
    });
  }

  /** The tenant's visible comments, each with its subject: 1 + (subject types on the page) + count statements. */
  async list(session: TenantSession, q: CommentListQuery): Promise<ListPage<CommentWithSubjectDto>> {
    const { tenantId } = session;
    const pager = new ListPager(q, 'createdAt');
    const conditions: WhereOptions[] = [{ tenantId }];
    if (q.subjectType !== undefined) conditions.push({ subjectType: q.subjectType });
    return session.readModels(async (transaction, node) => {
      const Comment = node.models.Comment.scope('visible');
      const rows = await Comment.findAll({ where: pager.where(conditions), order: pager.order, limit: pager.limit, offset: pager.offset, transaction });
      const labels = await this.#labels(node, transaction, tenantId, rows);
      const total = pager.wantsTotal ? await Comment.count({ where: { [Op.and]: conditions }, transaction }) : undefined;
      const items = rows.map((c): CommentWithSubjectDto => {
        const label = labels.get(`${c.subjectType}:${c.subjectId}`);
        return { ...toCommentDto(c), subject: label === undefined ? null : { type: c.subjectType, id: c.subjectId, label } };
      });
      return pager.page(items, (c) => c.createdAt, total);
    });
  }

  async #subject(node: ShardNode, transaction: Transaction, tenantId: string, type: CommentSubjectType, id: string, lock: boolean): Promise<SubjectRow> {
    const subject = await subjectModel(node, type).findOne({
      where: { tenantId, id } as WhereOptions,
      attributes: ['tenantId', 'id'],
      transaction,
      ...(lock ? { lock: transaction.LOCK.SHARE } : {}),
    });
    if (!subject) throw new NotFoundError(type, id);
    return subject;
  }

  /** `type:id` → label for every subject of the page, one query per subject type present. */
  async #labels(node: ShardNode, transaction: Transaction, tenantId: string, comments: readonly CommentRecord[]): Promise<Map<string, string>> {
    const ids = new Map<CommentSubjectType, Set<string>>();
    for (const c of comments) ids.set(c.subjectType, (ids.get(c.subjectType) ?? new Set()).add(c.subjectId));
    const labels = new Map<string, string>();
    // one after another: they share the transaction's one connection anyway
    for (const [type, set] of ids) {
      const attribute = SUBJECT_LABEL[type];
      const rows = await subjectModel(node, type).findAll({ where: { tenantId, id: [...set] } as WhereOptions, attributes: ['id', attribute], transaction });
      for (const row of rows) labels.set(`${type}:${row.id}`, String(row.get(attribute)));
    }
    return labels;
  }
}
