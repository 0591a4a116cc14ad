import type { AdminClient } from './admin-client.js';
import type { TenantTable } from './shard-admin-sql.js';

interface TableRow {
  name: string;
  columns: string[];
  key: string[] | null;
  parents: string[];
  text_columns: string[];
  generated: string[];
}

/**
 * Every tenant table of a shard, read from the system catalogs (never a hard-coded list,
 * so tables added by later migrations move too): tables of `public` with a tenant_id
 * column, less the fence table itself.
 */
const TABLES_SQL = `
  SELECT c.relname::text AS name,
         ARRAY(SELECT a.attname::text FROM pg_attribute a
                WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
                ORDER BY a.attnum) AS columns,
         (SELECT array_agg(a.attname::text ORDER BY array_position(i.indkey::int2[], a.attnum))
            FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
           WHERE i.indrelid = c.oid AND i.indisprimary) AS key,
         ARRAY(SELECT DISTINCT p.relname::text FROM pg_constraint k JOIN pg_class p ON p.oid = k.confrelid
                WHERE k.conrelid = c.oid AND k.contype = 'f' ORDER BY 1) AS parents,
         -- types with their own cast to json (hstore → object) would not read back from it
         ARRAY(SELECT a.attname::text FROM pg_attribute a
                WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
                  AND a.atttypid NOT IN ('json'::regtype, 'jsonb'::regtype)
                  AND EXISTS (SELECT 1 FROM pg_cast k WHERE k.castsource = a.atttypid AND k.casttarget IN ('json'::regtype, 'jsonb'::regtype))
                ORDER BY a.attnum) AS text_columns,
         ARRAY(SELECT a.attname::text FROM pg_attribute a
                WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated <> ''
                ORDER BY a.attnum) AS generated
    FROM pg_class c
    JOIN pg_namespace ns ON ns.oid = c.relnamespace
   WHERE ns.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
     AND c.relname <> 'tenant_fences'
     AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
   ORDER BY c.relname`;

export async function tenantTables(client: AdminClient): Promise<TenantTable[]> {
  const { rows } = await client.query<TableRow>(TABLES_SQL);
  return rows.map((r) => ({ name: r.name, columns: r.columns, key: r.key ?? [], parents: r.parents, textColumns: r.text_columns, generated: r.generated }));
}

/**
 * Why a set of tables cannot be moved, or undefined. A row filter on tenant_id needs
 * tenant_id in the replica identity, else the source would refuse every UPDATE and
 * DELETE on the table (for all tenants) while the publication exists.
 */
export function unmovable(tables: readonly TenantTable[]): string | undefined {
  if (tables.length === 0) return 'the shard has no tenant tables';
  const bad = tables.find((t) => !t.key.includes('tenant_id'));
  return bad ? `table ${bad.name} has no primary key containing tenant_id` : undefined;
}

/** Why the target's schema differs from the source's, or undefined. */
export function schemaMismatch(source: readonly TenantTable[], target: readonly TenantTable[]): string | undefined {
  const targets = new Map(target.map((t) => [t.name, t]));
  for (const s of source) {
    const t = targets.get(s.name);
    if (!t) return `table ${s.name} is missing on the target`;
    const missing = s.columns.filter((c) => !t.columns.includes(c));
    if (missing.length > 0) return `table ${s.name} lacks column(s) ${missing.join(', ')} on the target`;
  }
  return undefined;
}
