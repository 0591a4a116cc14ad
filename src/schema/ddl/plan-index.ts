import { createHash } from 'node:crypto';
import { loadModule, type DropStmt, type IndexStmt, type Node, type ReindexStmt } from 'libpg-query';
import { columnsReadBy } from './column-refs.js';
import type { PlannedStatement } from './planned-statement.js';
import { renderIndexOnOnly, renderStatement } from './postgres-grammar.js';
import type { KnownTable, ShardSchemaLookup } from './shard-schema.js';
import { UnsafeDdlError, sqlName } from './unsafe-ddl-error.js';

/**
 * Index statements, always CONCURRENTLY: a plain CREATE INDEX blocks every write to the table
 * for the whole build, a plain DROP INDEX or REINDEX blocks reads too. CONCURRENTLY cannot
 * run in a transaction block, and a build that fails leaves an INVALID index behind that
 * still slows writes; the plan carries its name so the engine can drop it before retrying.
 */

export function planCreateIndex(statement: IndexStmt, lookup: ShardSchemaLookup): PlannedStatement {
  const table = lookup.table(statement.relation);
  const name = statement.idxname;
  if (!name) {
    throw new UnsafeDdlError(
      `CREATE INDEX on ${sqlName(table.name)} has no index name: if the concurrent build fails on a shard, the INVALID index it leaves must be found and dropped by name`,
      `name it: CREATE INDEX <name> ON ${sqlName(table.name)} (…)`,
    );
  }
  const clash = lookup.clash(name);
  if (clash && !statement.if_not_exists) {
    throw new UnsafeDdlError(`CREATE INDEX ${sqlName(name)}: ${clash} exists already`, 'pick another name (or write IF NOT EXISTS, and check the existing index is VALID)');
  }
  for (const node of [...(statement.indexParams ?? []), ...(statement.indexIncludingParams ?? [])]) {
    const element = 'IndexElem' in node ? node.IndexElem : {};
    if (element.name !== undefined) lookup.column(table, element.name, 'an index column');
    for (const column of columnsReadBy(element.expr)) lookup.column(table, column, 'read by an index expression');
  }
  for (const column of columnsReadBy(statement.whereClause)) lookup.column(table, column, "read by the index's WHERE");
  if (table.partitioned) return planPartitionedIndex(statement, table.name, name);
  const sql = renderStatement({ IndexStmt: { ...statement, concurrent: true } });
  return { sql, kind: 'index', concurrent: true, lockTimeout: false, index: name, table: table.name };
}

/**
 * PostgreSQL builds no index on a partitioned table CONCURRENTLY, so the plan is the
 * standard recipe: the parent's index `ON ONLY` the parent (a catalog entry, invalid until
 * every partition's is attached; a short lock, taken under the lock timeout), and the tree
 * of the index each partition gets, built CONCURRENTLY and attached by the engine.
 */
function planPartitionedIndex(statement: IndexStmt, table: string, name: string): PlannedStatement {
  const sql = renderIndexOnOnly({ ...statement, concurrent: false });
  // checked now, so a plan the deparser cannot write for a partition is refused before anything runs
  renderStatement({ IndexStmt: forPartition(statement, table, partitionIndexName(name, table)) });
  return { sql, kind: 'partitioned-index', concurrent: false, lockTimeout: true, index: name, table, partitionIndex: { statement } };
}

function forPartition(statement: IndexStmt, partition: string, name: string): IndexStmt {
  return { ...statement, idxname: name, concurrent: true, if_not_exists: false, relation: { schemaname: 'public', relname: partition, inh: true, relpersistence: 'p' } };
}

/** The CREATE INDEX CONCURRENTLY one partition gets for a step of kind 'partitioned-index'. */
export async function partitionIndexSql(step: PlannedStatement, partition: string, name: string): Promise<string> {
  const statement = step.partitionIndex?.statement as IndexStmt | undefined;
  if (step.kind !== 'partitioned-index' || statement === undefined) throw new TypeError(`step ${step.sql} is not an index on a partitioned table`);
  await loadModule();
  return renderStatement({ IndexStmt: forPartition(statement, partition, name) });
}

const MAX_NAME_BYTES = 63; // NAMEDATALEN - 1: PostgreSQL would cut a longer name, and two could collide

/** A partition's index name: `<partition>_<index>`, cut and suffixed with a hash when longer than PostgreSQL keeps. */
export function partitionIndexName(index: string, partition: string): string {
  const name = `${partition}_${index}`;
  if (Buffer.byteLength(name) <= MAX_NAME_BYTES) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  let head = name;
  while (Buffer.byteLength(head) > MAX_NAME_BYTES - hash.length - 1) head = head.slice(0, -1);
  return `${head}_${hash}`;
}

export function planDropIndex(statement: DropStmt, lookup: ShardSchemaLookup): PlannedStatement {
  const objects = statement.objects ?? [];
  if (objects.length !== 1) {
    throw new UnsafeDdlError(`DROP INDEX names ${objects.length} indexes, and DROP INDEX CONCURRENTLY drops one at a time`, 'send one DROP INDEX per index');
  }
  const parts = 'List' in objects[0]! ? (objects[0].List.items ?? []).map((n) => ('String' in n ? (n.String.sval ?? '') : '?')) : [];
  const name = parts.at(-1) ?? '';
  if (statement.behavior === 'DROP_CASCADE') {
    throw new UnsafeDdlError(
      `DROP INDEX ${sqlName(name)} CASCADE would also drop the constraints that use it, and CONCURRENTLY cannot cascade`,
      'drop the dependent constraints first, each as an explicit contract step of expand/contract, then drop the index without CASCADE',
    );
  }
  const owner = lookup.indexOwner(parts.length > 1 ? parts.slice(0, -1).join('.') : undefined, name);
  if (owner.partitioned) {
    // DROP INDEX CONCURRENTLY refuses a partitioned index; a plain drop is a catalog change, brief once its lock is granted
    const sql = renderStatement({ DropStmt: { ...statement, concurrent: false } });
    return { sql, kind: 'index', concurrent: false, lockTimeout: true, index: name, table: owner.name };
  }
  const sql = renderStatement({ DropStmt: { ...statement, concurrent: true } });
  return { sql, kind: 'index', concurrent: true, lockTimeout: false, index: name, table: owner.name };
}

export function planReindex(statement: ReindexStmt, lookup: ShardSchemaLookup): PlannedStatement {
  const options = (statement.params ?? []).map((n) => ('DefElem' in n ? (n.DefElem.defname ?? '') : '?'));
  const target = statement.relation?.relname ?? statement.name ?? '';
  if (!options.includes('concurrently')) {
    throw new UnsafeDdlError(
      `REINDEX of ${sqlName(target)} without CONCURRENTLY blocks writes to the table, and reads that would use the index, for the whole rebuild`,
      'write REINDEX INDEX CONCURRENTLY <index> (or REINDEX TABLE CONCURRENTLY <table>)',
    );
  }
  const other = options.filter((o) => o !== 'concurrently' && o !== 'verbose');
  if (other.length > 0) throw new UnsafeDdlError(`REINDEX option ${other.join(', ')} is not offered`, 'use REINDEX … CONCURRENTLY alone');
  let table: KnownTable;
  let index: string | undefined;
  if (statement.kind === 'REINDEX_OBJECT_INDEX') {
    index = statement.relation?.relname ?? '';
    table = lookup.indexOwner(statement.relation?.schemaname, index);
  } else if (statement.kind === 'REINDEX_OBJECT_TABLE') {
    table = lookup.table(statement.relation);
  } else {
    throw new UnsafeDdlError(`REINDEX of a whole schema, database or system catalog rebuilds far more than one change`, 'reindex one index or table at a time, CONCURRENTLY');
  }
  const sql = renderStatement({ ReindexStmt: statement } satisfies Node);
  return { sql, kind: 'index', concurrent: true, lockTimeout: false, ...(index === undefined ? {} : { index }), table: table.name };
}
