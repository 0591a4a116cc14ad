import { escapeIdentifier, escapeLiteral } from 'pg';
import { withAdminClient, type AdminClientOptions } from '../shard-sql/admin-client.js';
import { fkOrder, jsonSelectList } from '../shard-sql/shard-admin-sql.js';
import { tenantTables } from '../shard-sql/tenant-tables.js';

/** Rows fetched per round trip while streaming. */
const FETCH = 500;

/**
 * Streams every row of a tenant from its primary as NDJSON lines `{"table","row"}`, all
 * tables read in one REPEATABLE READ snapshot (a consistent copy while writes go on),
 * parents before children so the lines import in order. Stored columns only: generated
 * ones are recomputed on import. `write` returning a promise is awaited (backpressure).
 */
export async function exportTenant(url: string, options: AdminClientOptions, tenantId: string, write: (line: string) => Promise<void> | void): Promise<number> {
  return withAdminClient(url, options, 'export', async (client) => {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      let lines = 0;
      for (const table of fkOrder(await tenantTables(client))) {
        const cols = jsonSelectList(table);
        const order = (table.key.length > 0 ? table.key : table.columns).map(escapeIdentifier).join(', ');
        // DECLARE takes no bind parameters: the tenant id is quoted as a literal
        await client.query(
          `DECLARE sg_export NO SCROLL CURSOR FOR
             SELECT json_build_object('table', ${escapeLiteral(table.name)}, 'row', row_to_json(x))::text AS line
               FROM (SELECT ${cols} FROM ${escapeIdentifier(table.name)} WHERE tenant_id = ${escapeLiteral(tenantId)} ORDER BY ${order}) x`,
        );
        for (;;) {
          const { rows } = await client.query<{ line: string }>(`FETCH ${FETCH} FROM sg_export`);
          for (const r of rows) await write(`${r.line}\n`);
          lines += rows.length;
          if (rows.length < FETCH) break;
        }
        await client.query('CLOSE sg_export');
      }
      return lines;
    } finally {
      await client.query('COMMIT').catch(() => undefined);
    }
  });
}
