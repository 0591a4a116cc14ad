import pg from 'pg';
import type { PgTls } from '../../transport/pg-tls.js';

/** A shard's `public` tables as the DDL check consults them: columns, index names, partitioned or not. */
export interface ReadShardSchema {
  readonly tables: ReadonlyMap<string, { readonly columns: ReadonlySet<string>; readonly indexes: ReadonlySet<string>; readonly partitioned: boolean }>;
}

const SCHEMA_SQL = `
  SELECT c.relname::text AS name, c.relkind = 'p' AS partitioned,
         ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
         ARRAY(SELECT ic.relname::text FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = c.oid) AS indexes
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition`;

/** Reads the schema from one shard's primary (every shard has the same one: migrations and changes run everywhere). */
export async function readShardSchema(url: string, tls: PgTls, connectTimeoutMs: number): Promise<ReadShardSchema> {
  const client = new pg.Client({ ...(await tls.clientOptions(url)), application_name: 'shardgate:ddl-schema', connectionTimeoutMillis: connectTimeoutMs });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string; partitioned: boolean; columns: string[]; indexes: string[] }>(SCHEMA_SQL);
    return { tables: new Map(rows.map((r) => [r.name, { columns: new Set(r.columns), indexes: new Set(r.indexes), partitioned: r.partitioned }])) };
  } finally {
    await client.end().catch(() => undefined);
  }
}
