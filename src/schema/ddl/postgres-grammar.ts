import { loadModule, parseSync, type IndexStmt, type Node } from 'libpg-query';
import { deparseSync } from 'pgsql-deparser';
import { UnsafeDdlError } from './unsafe-ddl-error.js';

/**
 * PostgreSQL's own grammar, both ways: libpg-query is the server's parser compiled to
 * WebAssembly (PostgreSQL 18's grammar; every shard runs 15 or later, and what the planner
 * accepts is old syntax), pgsql-deparser writes a tree back as SQL. No SQL is read or
 * written any other way in this folder.
 */

/** The one statement in `ddl`; nothing, several, or what the grammar refuses is refused. */
export async function parseOneStatement(ddl: string): Promise<Node> {
  // the parser throws on an empty text but returns no statement for a blank one: one answer for both
  if (ddl.trim() === '') throw new UnsafeDdlError('there is no statement in it', 'send exactly one DDL statement');
  await loadModule();
  let statements;
  try {
    statements = parseSync(ddl).stmts ?? [];
  } catch (err) {
    throw new UnsafeDdlError(`PostgreSQL's parser refuses it: ${(err as Error).message}`, 'send one statement that PostgreSQL parses');
  }
  const [first, ...rest] = statements;
  if (!first?.stmt) throw new UnsafeDdlError('there is no statement in it', 'send exactly one DDL statement');
  if (rest.length > 0) {
    throw new UnsafeDdlError(
      `it holds ${statements.length} statements, and a rollout plans one change at a time`,
      'send exactly one DDL statement; send the others one by one, each after the previous rollout finished',
    );
  }
  return first.stmt;
}

/**
 * The SQL of a statement tree, checked by parsing it back: a deparser that dropped or changed
 * anything (an option, a NOT VALID, a quote) would have the shards run something other than
 * what was checked, so a text that does not parse back to the same tree is refused. Needs
 * the parser loaded: call it after `parseOneStatement`.
 */
export function renderStatement(statement: Node): string {
  return checked(statement, deparseSync(statement, { pretty: false }));
}

/**
 * `CREATE INDEX … ON ONLY <table>`, which pgsql-deparser writes without its ONLY: the
 * statement is written for the whole table, ONLY inserted where the parser says the table
 * name starts, and the result checked like any rendering (it must parse back to `statement`).
 */
export function renderIndexOnOnly(statement: IndexStmt): string {
  const whole = deparseSync({ IndexStmt: { ...statement, relation: { ...statement.relation, inh: true } } }, { pretty: false });
  const [parsed] = parseSync(whole).stmts ?? [];
  const at = (parsed?.stmt as { IndexStmt?: IndexStmt } | undefined)?.IndexStmt?.relation?.location;
  const bytes = Buffer.from(whole);
  const sql = at === undefined ? whole : `${bytes.subarray(0, at).toString()}ONLY ${bytes.subarray(at).toString()}`;
  return checked({ IndexStmt: { ...statement, relation: { ...statement.relation, inh: false } } }, sql);
}

function checked(statement: Node, sql: string): string {
  const back = parseSync(sql).stmts ?? [];
  if (back.length !== 1 || canonical(back[0]!.stmt) !== canonical(statement)) {
    throw new UnsafeDdlError(
      `the planned statement could not be written back as SQL that means the same (${sql})`,
      'run this change as a reviewed shard migration (shards/migrations/shard)',
    );
  }
  return sql;
}

// where in the text a node was found, not what it means
const POSITIONS = new Set(['location', 'stmt_location', 'stmt_len', 'list_start', 'list_end', 'rexpr_list_start', 'rexpr_list_end', 'name_location']);

/** A tree with positions left out and protobuf's defaults (false, 0, "", []) taken as absent, as the parser omits them. */
function canonical(value: unknown): string {
  return JSON.stringify(normalized(value));
}

function normalized(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalized);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value)
    .filter(([key, v]) => !POSITIONS.has(key) && v !== undefined && v !== false && v !== 0 && v !== '' && !(Array.isArray(v) && v.length === 0))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, v]) => [key, normalized(v)]);
  return Object.fromEntries(entries);
}
