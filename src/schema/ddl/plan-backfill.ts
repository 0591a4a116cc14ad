import { parseSync, type Node, type UpdateStmt } from 'libpg-query';
import { columnsReadBy } from './column-refs.js';
import type { PlannedStatement } from './planned-statement.js';
import { renderStatement } from './postgres-grammar.js';
import type { ShardSchemaLookup } from './shard-schema.js';
import { UnsafeDdlError, sqlName } from './unsafe-ddl-error.js';

/** Columns a backfill may not set: a row would change tenant, or its identity under every reference to it. */
const IDENTITY = new Set(['tenant_id', 'id']);

const RECIPE = 'send one UPDATE <table> SET <new column> = <expression of the row> WHERE <new column> IS NULL';

/**
 * A backfill, the third step of expand/contract: one `UPDATE` of a table's rows that the
 * engine runs in batches of heap blocks, each batch its own short transaction, never one
 * statement over the whole table (which would hold every row lock to the end, bloat the
 * table at once and lag every replica). The plan is the operator's statement with a
 * `ctid` range added to its WHERE (`$1`, `$2`: the batch's first and past-the-last block);
 * PostgreSQL reads such a range with a TID range scan, just those blocks.
 *
 * The statement must read only its own row: no sub-query (which could read another
 * tenant's rows, and makes a batch's cost unbounded), no FROM, no WITH; and it must have a
 * WHERE, so rows the new code has written already are left as they are.
 */
export function planBackfill(statement: UpdateStmt, lookup: ShardSchemaLookup): PlannedStatement {
  const table = lookup.table(statement.relation);
  const name = sqlName(table.name);
  if (table.partitioned) {
    throw new UnsafeDdlError(
      `${name} is partitioned, and a backfill runs over one table's heap blocks`,
      'backfill each partition in a reviewed shard migration (shards/migrations/shard), or UPDATE the partitions one by one',
    );
  }
  if (statement.withClause) throw new UnsafeDdlError(`the UPDATE of ${name} has a WITH clause`, RECIPE);
  if ((statement.fromClause ?? []).length > 0) throw new UnsafeDdlError(`the UPDATE of ${name} reads other tables (FROM)`, `${RECIPE}; compute the value from the row's own columns`);
  if (statement.returningClause) throw new UnsafeDdlError(`the UPDATE of ${name} has RETURNING, and nobody reads what a rollout returns`, RECIPE);
  if (!statement.whereClause) {
    throw new UnsafeDdlError(
      `the UPDATE of ${name} has no WHERE: it would rewrite every row, and overwrite values the new code has written since`,
      `${RECIPE}, so only the rows written before the new column are filled`,
    );
  }
  const values: unknown[] = [];
  for (const node of statement.targetList ?? []) {
    const target = 'ResTarget' in node ? node.ResTarget : {};
    const column = target.name ?? '';
    lookup.column(table, column, 'a column the backfill sets');
    if (IDENTITY.has(column)) {
      throw new UnsafeDdlError(`the UPDATE of ${name} sets ${sqlName(column)}, which would move rows to another tenant or change their identity`, RECIPE);
    }
    values.push(target.val);
  }
  for (const [what, expression] of [
    ['the value', values],
    ['the WHERE', statement.whereClause],
  ] as const) {
    if (holds(expression, 'SubLink')) {
      throw new UnsafeDdlError(`${what} of the UPDATE of ${name} has a sub-query, which may read other tenants' rows and makes each batch's cost unbounded`, `${RECIPE}; compute the value from the row's own columns`);
    }
    for (const column of columnsReadBy(expression)) lookup.column(table, column, `read by ${what} of the backfill`);
  }
  const where: Node = { BoolExpr: { boolop: 'AND_EXPR', args: [statement.whereClause, ...blockRange()] } };
  const sql = renderStatement({ UpdateStmt: { ...statement, whereClause: where } });
  return { sql, kind: 'backfill', concurrent: false, lockTimeout: true, table: table.name };
}

/** `ctid >= $1::tid AND ctid < $2::tid`, as PostgreSQL's parser reads it. */
function blockRange(): Node[] {
  const [select] = parseSync('SELECT WHERE ctid >= $1::tid AND ctid < $2::tid').stmts ?? [];
  const where = (select?.stmt as { SelectStmt?: { whereClause?: Node } } | undefined)?.SelectStmt?.whereClause;
  if (!where || !('BoolExpr' in where)) throw new Error('the block range did not parse as expected');
  return where.BoolExpr.args ?? [];
}

function holds(value: unknown, kind: string): boolean {
  if (Array.isArray(value)) return value.some((v) => holds(v, kind));
  if (value === null || typeof value !== 'object') return false;
  return Object.entries(value).some(([key, child]) => key === kind || holds(child, kind));
}
