import { escapeIdentifier } from 'pg';
import { ConflictError, ValidationError } from '../../errors/errors.js';
import { inAdminTransaction, withAdminClient, type AdminClient, type AdminClientOptions } from '../shard-sql/admin-client.js';
import { fkOrder, type TenantTable } from '../shard-sql/shard-admin-sql.js';
import { countRows } from '../shard-sql/tenant-rows.js';
import { tenantTables } from '../shard-sql/tenant-tables.js';

export interface ImportOptions {
  /** delete the tenant's existing rows first (else rows already there are a 409) */
  readonly replace: boolean;
  /** write under the tenant's write fence (a restore in place, which fenced the tenant itself) */
  readonly bypassFence?: boolean;
  /** an entry of the tenant's audit trail written in the same transaction (a restore says what it did) */
  readonly audit?: { readonly id: string; readonly values: Readonly<Record<string, unknown>> };
}

/** Lines staged per round trip. */
const BATCH = 500;
/** Advisory lock class: one import per tenant at a time. */
const IMPORT_LOCK_CLASS = 7302;

/** Checks one NDJSON line; returns its table. Everything a client got wrong names the line. */
function checkLine(text: string, n: number, tenantId: string, tables: ReadonlyMap<string, TenantTable>): string {
  const field = `line ${n}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ValidationError(field, `${field}: not valid JSON`);
  }
  const { table, row } = (parsed ?? {}) as { table?: unknown; row?: unknown };
  if (typeof table !== 'string' || !tables.has(table)) throw new ValidationError(field, `${field}: "table" must name a tenant table`);
  if (typeof row !== 'object' || row === null || Array.isArray(row)) throw new ValidationError(field, `${field}: "row" must be an object`);
  const columns = tables.get(table)!.columns;
  const unknown = Object.keys(row).find((k) => !columns.includes(k));
  if (unknown !== undefined) throw new ValidationError(field, `${field}: ${table} has no stored column ${JSON.stringify(unknown)}`);
  // a row of another tenant is never written under this one
  if ((row as { tenant_id?: unknown }).tenant_id !== tenantId) throw new ValidationError(field, `${field}: tenant_id must be ${JSON.stringify(tenantId)}`);
  return table;
}

const insertSql = (t: TenantTable, where: string) => {
  const cols = t.columns.map(escapeIdentifier).join(', ');
  return `INSERT INTO ${escapeIdentifier(t.name)} (${cols}) SELECT ${t.columns.map((c) => `r.${escapeIdentifier(c)}`).join(', ')}
            FROM sg_import i, jsonb_populate_record(NULL::${escapeIdentifier(t.name)}, i.line -> 'row') r WHERE ${where} ORDER BY i.line_no`;
};

/** Inserts one table's staged rows; when that fails, finds the first line that fails alone and names it. */
async function insertTable(client: AdminClient, t: TenantTable): Promise<number> {
  await client.query('SAVEPOINT sg_table');
  try {
    return (await client.query(insertSql(t, 'i.tbl = $1'), [t.name])).rowCount ?? 0;
  } catch (err) {
    await client.query('ROLLBACK TO SAVEPOINT sg_table');
    const { rows } = await client.query<{ line_no: number }>('SELECT line_no FROM sg_import WHERE tbl = $1 ORDER BY line_no', [t.name]);
    for (const { line_no: n } of rows) {
      try {
        await client.query(insertSql(t, 'i.line_no = $1'), [n]);
      } catch (lineErr) {
        const code = (lineErr as { code?: string }).code ?? '';
        if (code === 'SG001') throw lineErr; // the tenant is fenced (moving): a 503 upstream, not bad input
        throw new ValidationError(`line ${n}`, `line ${n}: ${(lineErr as Error).message}`);
      }
    }
    throw err;
  }
}

/**
 * Restores an NDJSON export into the tenant's shard, atomically: lines are checked and
 * staged as they arrive, then every table is inserted parents first, all in one
 * transaction. Inserts go through the fence like any write (a moving tenant is refused).
 */
export async function importTenant(url: string, options: AdminClientOptions, tenantId: string, lines: AsyncIterable<string>, how: ImportOptions): Promise<Record<string, number>> {
  return withAdminClient(url, options, 'import', async (client) => {
    const tables = await tenantTables(client);
    const byName = new Map(tables.map((t) => [t.name, t]));
    return inAdminTransaction(client, async () => {
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [IMPORT_LOCK_CLASS, tenantId]);
      if (how.bypassFence) await client.query(`SET LOCAL shardgate.bypass_fence = 'on'`);
      const existing = await countRows(client, tenantId, tables);
      if (Object.values(existing).some((n) => n > 0)) {
        if (!how.replace) throw new ConflictError(`Tenant ${tenantId} already has rows on its shard; import with ?replace=true to replace them`);
        for (const t of fkOrder(tables).reverse()) await client.query(`DELETE FROM ${escapeIdentifier(t.name)} WHERE tenant_id = $1`, [tenantId]);
      }
      await client.query('CREATE TEMP TABLE sg_import (line_no integer PRIMARY KEY, tbl text NOT NULL, line jsonb NOT NULL) ON COMMIT DROP');
      let batch: Array<[number, string, string]> = [];
      const flush = async () => {
        if (batch.length === 0) return;
        // the line goes to PostgreSQL as text: numerics keep every digit (JSON.parse would round them)
        await client.query('INSERT INTO sg_import SELECT * FROM unnest($1::int[], $2::text[], $3::jsonb[])', [batch.map((b) => b[0]), batch.map((b) => b[1]), batch.map((b) => b[2])]);
        batch = [];
      };
      let n = 0;
      for await (const text of lines) {
        n++;
        if (text.trim() === '') continue;
        batch.push([n, checkLine(text, n, tenantId, byName), text]);
        if (batch.length >= BATCH) await flush();
      }
      await flush();
      const counts: Record<string, number> = {};
      for (const t of fkOrder(tables)) counts[t.name] = await insertTable(client, t);
      if (how.audit) {
        await client.query(
          `INSERT INTO audit_log (tenant_id, id, table_name, record_id, action, actor, new_values) VALUES ($1, $2, 'tenants', $1, 'restore', 'admin', $3::jsonb)`,
          [tenantId, how.audit.id, JSON.stringify(how.audit.values)],
        );
      }
      return counts;
    });
  });
}
