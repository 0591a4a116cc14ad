import type { Node, RangeVar } from 'libpg-query';
import { UnsafeDdlError, sqlName } from './unsafe-ddl-error.js';

const CONTRACT =
  'the contract step of expand/contract must be explicit and is not offered through this API: once no running gateway uses it, do it in a reviewed shard migration (shards/migrations/shard)';

const OFFERED =
  'send one of the forms this API plans: CREATE [UNIQUE] INDEX, DROP INDEX, REINDEX … CONCURRENTLY, or ALTER TABLE … ADD COLUMN, ADD CONSTRAINT, ' +
  'VALIDATE CONSTRAINT, ALTER COLUMN … SET DEFAULT / DROP DEFAULT / DROP NOT NULL, or a backfill: UPDATE <table> SET … WHERE …';

/**
 * Why a statement that is none of the planned kinds is refused: the destructive ones are the
 * contract step of expand/contract, the rewriting ones lock the table for their whole run,
 * and everything else is simply not a change this API rolls out. The statement kind is named
 * in every message, and the table where there is one.
 */
export function refusalOf(statement: Node): UnsafeDdlError {
  if ('DropStmt' in statement) {
    const kind = (statement.DropStmt.removeType ?? 'OBJECT_?').slice('OBJECT_'.length).replaceAll('_', ' ');
    const names = (statement.DropStmt.objects ?? []).map((o) => ('List' in o ? (o.List.items ?? []).map((n) => ('String' in n ? n.String.sval : '?')).join('.') : '?'));
    const what = `DROP ${kind} ${names.map((n) => sqlName(n ?? '?')).join(', ')}`;
    return kind === 'TABLE' ? new UnsafeDdlError(`${what} destroys data running gateways may still read`, CONTRACT) : new UnsafeDdlError(`${what} is not a change this API plans`, OFFERED);
  }
  if ('TruncateStmt' in statement) {
    return new UnsafeDdlError(`TRUNCATE ${tables(statement.TruncateStmt.relations)} deletes every tenant's rows on the shard under ACCESS EXCLUSIVE`, CONTRACT);
  }
  if ('VacuumStmt' in statement) {
    const options = (statement.VacuumStmt.options ?? []).map((n) => ('DefElem' in n ? n.DefElem.defname : '?'));
    const relations = (statement.VacuumStmt.rels ?? []).map((n) => ('VacuumRelation' in n ? n.VacuumRelation.relation : undefined));
    if (!statement.VacuumStmt.is_vacuumcmd) return new UnsafeDdlError(`ANALYZE ${tablesOf(relations)} is maintenance, not a schema change`, 'leave statistics to autovacuum');
    if (options.includes('full')) {
      return new UnsafeDdlError(
        `VACUUM FULL ${tablesOf(relations)} rewrites the table under ACCESS EXCLUSIVE, blocking every read and write for the whole copy`,
        'leave space to (auto)vacuum, which runs online; rebuild a bloated index with REINDEX INDEX CONCURRENTLY',
      );
    }
    return new UnsafeDdlError(`VACUUM ${tablesOf(relations)} is maintenance, not a schema change`, 'leave it to autovacuum');
  }
  if ('ClusterStmt' in statement) {
    return new UnsafeDdlError(
      `CLUSTER ${tables(statement.ClusterStmt.relation ? [{ RangeVar: statement.ClusterStmt.relation }] : [])} rewrites the table under ACCESS EXCLUSIVE, blocking every read and write for the whole copy`,
      'do without physical ordering, or rebuild the table through expand/contract (a new table filled in batches)',
    );
  }
  if ('LockStmt' in statement) {
    return new UnsafeDdlError(
      `LOCK TABLE ${tables(statement.LockStmt.relations)} only holds a lock: an explicit lock makes every later query on the table queue behind it`,
      "send the change itself: the engine takes each lock under lock_timeout = '2s' and retries with backoff",
    );
  }
  if ('RenameStmt' in statement) {
    const { renameType, relation, subname, newname } = statement.RenameStmt;
    const target = `${sqlName(relation?.relname ?? '?')}${subname ? `.${sqlName(subname)}` : ''}`;
    if (renameType === 'OBJECT_TABLE' || renameType === 'OBJECT_COLUMN') {
      return new UnsafeDdlError(
        `RENAME of ${target} to ${sqlName(newname ?? '?')} breaks every running gateway that still uses the old name`,
        'expand/contract: add the new column or table, write both and backfill in batches, switch reads, then drop the old one in an explicit contract step',
      );
    }
    return new UnsafeDdlError(`RENAME of ${(renameType ?? 'OBJECT_?').slice('OBJECT_'.length).toLowerCase()} ${target} is not a change this API plans`, OFFERED);
  }
  if ('CreateStmt' in statement) {
    return new UnsafeDdlError(
      `CREATE TABLE ${tables([{ RangeVar: statement.CreateStmt.relation ?? {} }])} is not rolled out through this API`,
      "add the table in a shard migration (shards/migrations/shard), with its row-level security policy and move fence as docs/architecture.md says",
    );
  }
  return new UnsafeDdlError(`${statementKind(statement)} is not a change this API plans`, OFFERED);
}

function statementKind(statement: Node): string {
  const node = Object.keys(statement)[0] ?? 'Unknown';
  return sqlWords(node.endsWith('Stmt') ? node.slice(0, -'Stmt'.length) : node);
}

/** `CreateFunction` → `CREATE FUNCTION`: a parse node's name in SQL's words, for messages. */
export function sqlWords(camelCase: string): string {
  const words: string[] = [];
  for (const char of camelCase) {
    if (char >= 'A' && char <= 'Z' && words.length > 0) words.push(' ');
    words.push(char.toUpperCase());
  }
  return words.join('');
}

function tables(relations: readonly Node[] | undefined): string {
  return tablesOf((relations ?? []).map((n) => ('RangeVar' in n ? n.RangeVar : undefined)));
}

function tablesOf(relations: readonly (RangeVar | undefined)[]): string {
  const names = relations.map((r) => sqlName(r?.relname ?? '?'));
  return names.length > 0 ? names.join(', ') : '(every table)';
}
