import { Op, type WhereOptions } from 'sequelize';
import type { AuditAction, AuditLogRecord, AuditedTable } from '../../models/index.js';
import type { TenantSession } from '../tenant-session.js';
import { ListPager, type ListPage, type ListQuery } from '../list-page.js';

/** One entry of the trail as the API shows it. */
export interface AuditEntryDto {
  readonly id: string;
  readonly table: string;
  readonly recordId: string;
  readonly action: AuditAction;
  readonly actor: string | null;
  readonly at: string;
  readonly old: Record<string, unknown> | null;
  readonly new: Record<string, unknown> | null;
}

export interface AuditQuery extends ListQuery<'createdAt'> {
  readonly table?: AuditedTable | undefined;
  readonly recordId?: string | undefined;
}

function toAuditEntryDto(row: AuditLogRecord): AuditEntryDto {
  return {
    id: row.id,
    table: row.tableName,
    recordId: row.recordId,
    action: row.action,
    actor: row.actor,
    at: row.createdAt.toISOString(),
    old: row.oldValues,
    new: row.newValues,
  };
}

/**
 * A tenant's audit trail, as the model hooks and the set-based writes recorded it in the
 * writing transaction: read-only here. Oldest first, paged by number or keyset on
 * (createdAt, id); a record's trail uses audit_log_tenant_record, the whole trail
 * audit_log_tenant_created. Secrets never reach it (each model's audit spec omits them).
 */
export class AuditTrail {
  async list(session: TenantSession, q: AuditQuery): Promise<ListPage<AuditEntryDto>> {
    const pager = new ListPager(q, 'createdAt');
    const conditions: WhereOptions[] = [{ tenantId: session.tenantId }];
    if (q.table !== undefined) conditions.push({ tableName: q.table });
    if (q.recordId !== undefined) conditions.push({ recordId: q.recordId });
    return session.readModels(async (transaction, node) => {
      const rows = await node.models.AuditLog.findAll({ where: pager.where(conditions), order: pager.order, limit: pager.limit, offset: pager.offset, transaction });
      const total = pager.wantsTotal ? await node.models.AuditLog.count({ where: { [Op.and]: conditions }, transaction }) : undefined;
      return pager.page(rows.map(toAuditEntryDto), (e) => e.at, total);
    });
  }
}
