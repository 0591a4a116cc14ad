import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** PostgreSQL's own COPY of a tenant's rows into tables like its own (same indexes), on one server. */
export interface PgCopyProbe {
  readonly rows: number;
  readonly ms: number;
  readonly rows_per_s: number;
  /** per table: rows and rows/s (a narrow table against the products table and its six indexes) */
  readonly tables: Readonly<Record<string, { readonly rows: number; readonly rows_per_s: number }>>;
}

/**
 * What the mover's copy is compared with (issue 19: `move.copy_vs_pg_copy`): the same rows,
 * into the same kind of table with the same indexes, by `COPY … FROM` a file on the server
 * — PostgreSQL's fastest load path, parsing and index upkeep included, no network. Run on the
 * move's target right after the move, over the moved tenant's rows: each tenant table is
 * written to a server-side file, a table `LIKE` it `INCLUDING ALL` (its indexes and generated
 * columns) is made, and only the `COPY … FROM` into it is timed. Needs the privileged URL
 * (server-side files are superuser business); everything it makes is dropped.
 */
export async function pgCopyProbe(adminUrl: string, tenantId: string): Promise<PgCopyProbe> {
  const client = new pg.Client({ connectionString: adminUrl, application_name: 'shardgate:bench-copy-probe' });
  await client.connect();
  const tag = randomBytes(4).toString('hex');
  const tables: Record<string, { rows: number; rows_per_s: number }> = {};
  let rows = 0;
  let ms = 0;
  try {
    await client.query('SET jit = off');
    const { rows: list } = await client.query<{ name: string; columns: string[] }>(
      `SELECT c.relname::text AS name,
              ARRAY(SELECT quote_ident(a.attname) FROM pg_attribute a
                     WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum)::text[] AS columns
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind = 'r' AND NOT c.relispartition AND c.relname <> 'tenant_fences'
          AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
        ORDER BY c.relname`,
    );
    for (const { name, columns } of list) {
      const file = `/tmp/shardgate-copy-probe-${tag}-${name}.copy`;
      const probe = `shardgate_copy_probe_${tag}_${name}`.slice(0, 63);
      const cols = columns.join(', ');
      const table = pg.escapeIdentifier(name);
      const out = await client.query(`COPY (SELECT ${cols} FROM ${table} WHERE tenant_id = ${pg.escapeLiteral(tenantId)}) TO ${pg.escapeLiteral(file)}`);
      const n = out.rowCount ?? 0;
      if (n === 0) continue;
      await client.query(`CREATE TABLE ${pg.escapeIdentifier(probe)} (LIKE ${table} INCLUDING ALL)`);
      try {
        const started = performance.now();
        await client.query(`COPY ${pg.escapeIdentifier(probe)} (${cols}) FROM ${pg.escapeLiteral(file)}`);
        const took = performance.now() - started;
        tables[name] = { rows: n, rows_per_s: Math.round(n / (took / 1000)) };
        rows += n;
        ms += took;
      } finally {
        await client.query(`DROP TABLE ${pg.escapeIdentifier(probe)}`);
        await client.query(`COPY (SELECT 1) TO PROGRAM ${pg.escapeLiteral(`rm -f '${file}'`)}`);
      }
    }
  } finally {
    await client.end();
  }
  return { rows, ms: Math.round(ms), rows_per_s: ms > 0 ? Math.round(rows / (ms / 1000)) : 0, tables };
}
