import { planBackfill } from './plan-backfill.js';
import { planCreateIndex, planDropIndex, planReindex } from './plan-index.js';
import { planAlterTable } from './plan-alter-table.js';
import type { PlannedStatement } from './planned-statement.js';
import { parseOneStatement } from './postgres-grammar.js';
import { refusalOf } from './refuse-statement.js';
import { ShardSchemaLookup, type ShardSchema } from './shard-schema.js';

export type { PlannedKind, PlannedStatement } from './planned-statement.js';
export type { ShardSchema, ShardTable } from './shard-schema.js';
export { UnsafeDdlError } from './unsafe-ddl-error.js';
export { partitionIndexName, partitionIndexSql } from './plan-index.js';

/**
 * The statements the rollout engine runs on each shard for one operator-supplied DDL
 * statement, in order, or an `UnsafeDdlError` saying why not and what to do instead. The
 * statement is read by PostgreSQL's own parser and the plan written by its deparser; it is
 * checked against `schema` (the shard's public tables), so a plan never names a table,
 * column or index the shards lack. Async only because the parser is WebAssembly, loaded once.
 */
export async function planDdl(ddl: string, schema: ShardSchema): Promise<PlannedStatement[]> {
  const statement = await parseOneStatement(ddl);
  const lookup = new ShardSchemaLookup(schema);
  if ('IndexStmt' in statement) return [planCreateIndex(statement.IndexStmt, lookup)];
  if ('DropStmt' in statement && statement.DropStmt.removeType === 'OBJECT_INDEX') return [planDropIndex(statement.DropStmt, lookup)];
  if ('ReindexStmt' in statement) return [planReindex(statement.ReindexStmt, lookup)];
  if ('AlterTableStmt' in statement) return planAlterTable(statement.AlterTableStmt, lookup);
  if ('UpdateStmt' in statement) return [planBackfill(statement.UpdateStmt, lookup)];
  throw refusalOf(statement);
}
