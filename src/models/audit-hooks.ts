import type { Model, ModelStatic, Transaction } from 'sequelize';
import type { AuditAction, AuditLogModel } from './audit-log.js';

/** Options every write carries: the transaction the audit row joins, and who acted. */
export interface AuditedWriteOptions {
  transaction?: Transaction | null;
  actor?: string;
}

/**
 * Options for an audited write. Sequelize passes unknown option keys through to hooks,
 * which is how the actor reaches the audit row; typed as plain transaction options so
 * call sites need no casts.
 */
export function audited(transaction: Transaction, actor: string): { transaction: Transaction } {
  const options: AuditedWriteOptions & { transaction: Transaction } = { transaction, actor };
  return options;
}

export interface AuditSpec {
  readonly table: string;
  /** attributes never copied into the audit trail (secrets, hashes, ciphertext) */
  readonly omit: readonly string[];
}

type TenantRow = Model & { tenantId: string; id: string };

export interface AuditEntry {
  readonly tenantId: string;
  readonly recordId: string;
  readonly action: AuditAction;
  readonly oldValues: Record<string, unknown> | null;
  readonly newValues: Record<string, unknown> | null;
}

/**
 * Set-based write paths (batch upsert, update, delete) audit through this: one multi-row
 * insert in the caller's transaction, rows shaped exactly like the hooks' rows.
 */
export async function writeAuditRows(auditLog: AuditLogModel, table: string, entries: readonly AuditEntry[], options: AuditedWriteOptions & { transaction: Transaction }): Promise<void> {
  if (entries.length === 0) return;
  await auditLog.bulkCreate(
    entries.map((e) => ({ ...e, tableName: table, actor: options.actor ?? null })),
    { transaction: options.transaction },
  );
}

function snapshot(row: TenantRow, omit: readonly string[], source: 'current' | 'previous'): Record<string, unknown> {
  const values: Record<string, unknown> =
    source === 'current' ? { ...(row.get({ plain: true }) as Record<string, unknown>) } : { ...(row.previous() as Record<string, unknown>) };
  for (const key of omit) delete values[key];
  return values;
}

function requireTransaction(options: AuditedWriteOptions, table: string, action: AuditAction): Transaction {
  // Without a transaction the audit row could commit while the change rolls back (or the
  // reverse), and bulk pre-fetches would run on a replica: refuse instead.
  if (!options.transaction) throw new Error(`${table} ${action} must run inside a transaction (audit)`);
  return options.transaction;
}

/**
 * Writes an audit row in the same transaction for every create, update, soft delete and
 * restore, including bulk operations (forced to per-row hooks so each row is audited).
 */
export function attachAuditHooks(model: ModelStatic<TenantRow>, auditLog: AuditLogModel, spec: AuditSpec): void {
  const write = async (row: TenantRow, action: AuditAction, options: AuditedWriteOptions, oldValues: Record<string, unknown> | null) => {
    const transaction = requireTransaction(options, spec.table, action);
    if (model.sequelize !== auditLog.sequelize) throw new Error('audit log and audited model live on different connections');
    await auditLog.create(
      {
        tenantId: row.tenantId,
        tableName: spec.table,
        recordId: row.id,
        action,
        actor: options.actor ?? null,
        oldValues,
        newValues: action === 'delete' ? null : snapshot(row, spec.omit, 'current'),
      },
      { transaction },
    );
  };

  model.addHook('afterCreate', 'audit', (row: TenantRow, options: AuditedWriteOptions) => write(row, 'create', options, null));
  model.addHook('afterUpdate', 'audit', (row: TenantRow, options: AuditedWriteOptions) => {
    const changed = row.changed();
    if (changed === false) return;
    const previous = snapshot(row, spec.omit, 'previous');
    const old: Record<string, unknown> = {};
    for (const key of changed) if (!spec.omit.includes(key)) old[key] = previous[key];
    return write(row, 'update', options, old);
  });
  model.addHook('afterDestroy', 'audit', (row: TenantRow, options: AuditedWriteOptions) =>
    write(row, 'delete', options, snapshot(row, spec.omit, 'current')),
  );
  model.addHook('afterRestore', 'audit', (row: TenantRow, options: AuditedWriteOptions) => write(row, 'restore', options, null));

  // Bulk writes fire only *Bulk* hooks unless asked otherwise: make every bulk path per-row.
  const perRow = (options: AuditedWriteOptions & { individualHooks?: boolean }) => {
    requireTransaction(options, spec.table, 'update');
    options.individualHooks = true;
  };
  model.addHook('beforeBulkUpdate', 'audit', perRow);
  model.addHook('beforeBulkDestroy', 'audit', perRow);
  model.addHook('beforeBulkRestore', 'audit', perRow);
  model.addHook('beforeBulkCreate', 'audit', (_rows: TenantRow[], options: AuditedWriteOptions & { individualHooks?: boolean }) => perRow(options));
}
