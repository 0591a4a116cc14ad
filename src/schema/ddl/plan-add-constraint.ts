import type { AlterTableStmt, Constraint, Node } from 'libpg-query';
import { columnsReadBy } from './column-refs.js';
import type { PlannedStatement } from './planned-statement.js';
import { renderStatement } from './postgres-grammar.js';
import type { KnownTable, ShardSchemaLookup } from './shard-schema.js';
import { UnsafeDdlError, sqlName } from './unsafe-ddl-error.js';

/**
 * ALTER TABLE … ADD CONSTRAINT, in the steps that keep the table writable. A CHECK or a
 * FOREIGN KEY added as written is validated against every row while the lock that blocks
 * writes (ACCESS EXCLUSIVE; SHARE ROW EXCLUSIVE on both tables for a foreign key) is held;
 * added NOT VALID it only changes the catalog, and VALIDATE CONSTRAINT then scans under
 * SHARE UPDATE EXCLUSIVE, which lets reads and writes through. A constraint the operator
 * wrote NOT VALID stays that way: validating it is a separate decision.
 */
export function planAddConstraint(statement: AlterTableStmt, constraint: Constraint, table: KnownTable, lookup: ShardSchemaLookup): PlannedStatement[] {
  const name = constraint.conname;
  const what = `ADD CONSTRAINT${name ? ` ${sqlName(name)}` : ''} on ${sqlName(table.name)}`;
  switch (constraint.contype) {
    case 'CONSTR_CHECK':
    case 'CONSTR_FOREIGN':
      return splitValidation(statement, constraint, table, lookup, what);
    case 'CONSTR_UNIQUE':
    case 'CONSTR_PRIMARY':
      return [usingIndex(statement, constraint, table, what)];
    case 'CONSTR_EXCLUSION':
      throw new UnsafeDdlError(
        `${what}: an EXCLUDE constraint builds its index while ACCESS EXCLUSIVE is held, and PostgreSQL has no concurrent way to add one`,
        'enforce the rule another way (a CHECK, or a unique index built concurrently), or add it in a reviewed shard migration in a maintenance window',
      );
    case 'CONSTR_NOTNULL':
      throw new UnsafeDdlError(`${what}: a NOT NULL constraint scans the whole table under ACCESS EXCLUSIVE`, notNullRecipe(keyNames(constraint.keys)[0] ?? 'column'));
    default:
      throw new UnsafeDdlError(`${what}: a ${constraint.contype ?? '?'} constraint is not offered`, 'add a CHECK, FOREIGN KEY, or UNIQUE / PRIMARY KEY USING INDEX');
  }
}

/** The recipe for a NOT NULL that skips the scan (PostgreSQL 12+ uses a validated CHECK … IS NOT NULL instead). */
export function notNullRecipe(column: string): string {
  return (
    `ADD CONSTRAINT <name> CHECK (${sqlName(column)} IS NOT NULL) (planned NOT VALID, then VALIDATE CONSTRAINT), ` +
    'then SET NOT NULL in a reviewed shard migration: with the validated check in place PostgreSQL skips the scan, ' +
    'but this API cannot see constraints, so it never runs SET NOT NULL itself'
  );
}

function splitValidation(statement: AlterTableStmt, constraint: Constraint, table: KnownTable, lookup: ShardSchemaLookup, what: string): PlannedStatement[] {
  if (constraint.is_enforced !== true) {
    throw new UnsafeDdlError(`${what}: NOT ENFORCED constraints exist only from PostgreSQL 18, and shards run 15 or later`, 'add an enforced constraint (it is planned NOT VALID, then VALIDATE)');
  }
  if (!constraint.conname) {
    throw new UnsafeDdlError(
      `${what}: the constraint has no name, and VALIDATE CONSTRAINT must name it on every shard`,
      'name it: ALTER TABLE … ADD CONSTRAINT <name> CHECK (…) or … FOREIGN KEY (…) REFERENCES …',
    );
  }
  if (constraint.contype === 'CONSTR_CHECK') {
    for (const column of columnsReadBy(constraint.raw_expr)) lookup.column(table, column, 'read by the CHECK');
  } else {
    if (constraint.fk_with_period || constraint.pk_with_period) {
      throw new UnsafeDdlError(`${what}: PERIOD foreign keys exist only from PostgreSQL 18, and shards run 15 or later`, 'reference plain columns');
    }
    for (const column of keyNames(constraint.fk_attrs)) lookup.column(table, column, 'a referencing column');
    const referenced = lookup.table(constraint.pktable);
    for (const column of keyNames(constraint.pk_attrs)) lookup.column(referenced, column, 'a referenced column');
  }
  const add = constraint.skip_validation
    ? constraint
    : { ...constraint, skip_validation: true, initially_valid: undefined };
  const added: PlannedStatement = { sql: renderStatement(alterTable(statement, { Constraint: add })), kind: 'constraint', concurrent: false, lockTimeout: true, table: table.name };
  if (constraint.skip_validation) return [added];
  const validate: Node = {
    AlterTableStmt: {
      relation: statement.relation,
      objtype: 'OBJECT_TABLE',
      cmds: [{ AlterTableCmd: { subtype: 'AT_ValidateConstraint', name: constraint.conname, behavior: 'DROP_RESTRICT' } }],
    },
  };
  return [added, { sql: renderStatement(validate), kind: 'validate', concurrent: false, lockTimeout: true, table: table.name }];
}

/** UNIQUE / PRIMARY KEY only over an index already built concurrently: attaching it is metadata-only. */
function usingIndex(statement: AlterTableStmt, constraint: Constraint, table: KnownTable, what: string): PlannedStatement {
  const kind = constraint.contype === 'CONSTR_PRIMARY' ? 'PRIMARY KEY' : 'UNIQUE';
  const index = constraint.indexname;
  if (!index) {
    const columns = keyNames(constraint.keys).map(sqlName).join(', ');
    throw new UnsafeDdlError(
      `${what}: ${kind} builds its unique index while ACCESS EXCLUSIVE is held, blocking every read and write of the table for the whole build`,
      `build the index first with CREATE UNIQUE INDEX <index> ON ${sqlName(table.name)} (${columns}) (planned CONCURRENTLY), ` +
        `then ADD CONSTRAINT <name> ${kind} USING INDEX <index>` +
        (kind === 'PRIMARY KEY' ? '; its columns must be NOT NULL already, or PostgreSQL scans for NULLs under ACCESS EXCLUSIVE' : ''),
    );
  }
  if (!table.indexes?.has(index)) {
    throw new UnsafeDdlError(`${what}: no index ${sqlName(index)} on ${sqlName(table.name)} in the shard schema`, `build it first with CREATE UNIQUE INDEX ${sqlName(index)} ON ${sqlName(table.name)} (…)`);
  }
  return { sql: renderStatement({ AlterTableStmt: statement }), kind: 'constraint', concurrent: false, lockTimeout: true, table: table.name };
}

function alterTable(statement: AlterTableStmt, def: Node): Node {
  const [cmd] = statement.cmds ?? [];
  const command = cmd && 'AlterTableCmd' in cmd ? cmd.AlterTableCmd : {};
  return { AlterTableStmt: { ...statement, cmds: [{ AlterTableCmd: { ...command, def } }] } };
}

function keyNames(list: readonly Node[] | undefined): string[] {
  return (list ?? []).map((n) => ('String' in n ? (n.String.sval ?? '') : '?'));
}
