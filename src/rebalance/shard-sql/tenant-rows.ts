import { escapeIdentifier, escapeLiteral } from 'pg';
import { inAdminTransaction, type AdminClient } from './admin-client.js';
import { checksumSql, countSql, deleteTenantRowsSql, fkOrder, type TenantTable } from './shard-admin-sql.js';

export interface TableDigest {
  readonly rows: number;
  readonly sum: string;
}

/** A digest and the snapshot its statement read (`pg_current_snapshot()`): what changed since is tracked against it. */
export interface SnapshotDigest extends TableDigest {
  readonly snapshot: string;
}

/** Rows of the tenant per table. */
export async function countRows(client: AdminClient, tenantId: string, tables: readonly TenantTable[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of tables) {
    const { rows } = await client.query<{ rows: string }>(countSql(t), [tenantId]);
    out[t.name] = Number(rows[0]?.rows ?? 0);
  }
  return out;
}

/**
 * Count and checksum of the tenant's rows per table, in one statement (so one snapshot,
 * and so the tables agree with each other, in one round trip), with that snapshot.
 */
export async function digestRows(client: AdminClient, tenantId: string, tables: readonly TenantTable[]): Promise<Record<string, SnapshotDigest>> {
  return digest(client, tenantId, tables, checksumSql);
}

/** Row counts only, as digests with a zero checksum (moves.verify = 'count'). */
export async function countDigest(client: AdminClient, tenantId: string, tables: readonly TenantTable[]): Promise<Record<string, SnapshotDigest>> {
  return digest(client, tenantId, tables, (t) => `SELECT count(*)::bigint::text AS rows, '0' AS sum FROM ${escapeIdentifier(t.name)} WHERE tenant_id = $1`);
}

async function digest(client: AdminClient, tenantId: string, tables: readonly TenantTable[], perTable: (t: TenantTable) => string): Promise<Record<string, SnapshotDigest>> {
  if (tables.length === 0) return {};
  const sql = tables.map((t) => `SELECT ${escapeLiteral(t.name)}::text AS tbl, d.rows, d.sum, pg_current_snapshot()::text AS snap FROM (${perTable(t)}) d`).join(' UNION ALL ');
  const { rows } = await client.query<{ tbl: string; rows: string; sum: string; snap: string }>(sql, [tenantId]);
  return Object.fromEntries(rows.map((r) => [r.tbl, { rows: Number(r.rows), sum: r.sum ?? '0', snapshot: r.snap }]));
}

/** The first table whose digest differs, described; undefined when all agree. */
export function digestMismatch(source: Record<string, TableDigest>, target: Record<string, TableDigest>): string | undefined {
  for (const [table, s] of Object.entries(source)) {
    const t = target[table];
    if (!t) return `${table}: missing on the target`;
    if (s.rows !== t.rows) return `${table}: ${s.rows} rows on the source, ${t.rows} on the target`;
    if (s.sum !== t.sum) return `${table}: checksums differ (${s.rows} rows each)`;
  }
  return undefined;
}

/** Rows deleted per statement: each batch is a short transaction, however large the tenant. */
const DELETE_BATCH = 1000;

/**
 * Deletes every row of the tenant, children before parents, past the fence (the only
 * writer allowed to: the move's own cleanup and rollback). In batches, each committed
 * (with `between` run after each, a move's pacing):
 * the rows are unreachable (the tenant is placed elsewhere and fenced here), so a
 * half-done delete is harmless and the next run finishes it.
 */
export async function deleteTenantRows(client: AdminClient, tenantId: string, tables: readonly TenantTable[], between?: () => Promise<void>): Promise<number> {
  let deleted = 0;
  for (const t of fkOrder(tables).reverse()) {
    for (;;) {
      const n = await inAdminTransaction(client, async () => {
        await client.query(`SET LOCAL shardgate.bypass_fence = 'on'`);
        return (await client.query(deleteTenantRowsSql(t), [tenantId, DELETE_BATCH])).rowCount ?? 0;
      });
      deleted += n;
      if (n < DELETE_BATCH) break;
      await between?.();
    }
  }
  return deleted;
}
