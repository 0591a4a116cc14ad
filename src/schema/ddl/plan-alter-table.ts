import type { AlterTableCmd, AlterTableStmt } from 'libpg-query';
import { checkAddColumn } from './check-add-column.js';
import { notNullRecipe, planAddConstraint } from './plan-add-constraint.js';
import type { PlannedStatement } from './planned-statement.js';
import { renderStatement } from './postgres-grammar.js';
import { sqlWords } from './refuse-statement.js';
import type { ShardSchemaLookup } from './shard-schema.js';
import { UnsafeDdlError, sqlName } from './unsafe-ddl-error.js';

const EXPAND_CONTRACT =
  'expand/contract: add a new column of the new type, fill it in batches (and keep it in step with writes), switch reads to it, then drop the old column in an explicit contract step';

/**
 * ALTER TABLE, one change per statement: each command of a list would share one ACCESS
 * EXCLUSIVE lock and one lock_timeout retry, and a constraint among them could not be split
 * into NOT VALID and VALIDATE. Every statement planned here runs under lock_timeout, since
 * even a catalog-only change queues behind running transactions and blocks every later
 * query on the table while it waits.
 */
export function planAlterTable(statement: AlterTableStmt, lookup: ShardSchemaLookup): PlannedStatement[] {
  if (statement.objtype !== 'OBJECT_TABLE') {
    const kind = (statement.objtype ?? 'OBJECT_?').slice('OBJECT_'.length).replaceAll('_', ' ');
    throw new UnsafeDdlError(`ALTER ${kind} ${sqlName(statement.relation?.relname ?? '?')} is not a change this API plans`, 'alter tables only (ALTER TABLE …)');
  }
  const commands = statement.cmds ?? [];
  const table = lookup.table(statement.relation);
  const [only] = commands;
  if (commands.length !== 1 || !only || !('AlterTableCmd' in only)) {
    throw new UnsafeDdlError(
      `ALTER TABLE ${sqlName(table.name)} holds ${commands.length} changes, and each needs its own lock_timeout retry (and a constraint its own NOT VALID step)`,
      'send one ALTER TABLE per change',
    );
  }
  const command: AlterTableCmd = only.AlterTableCmd;
  const column = command.name ?? '';
  const asColumn = (): PlannedStatement[] => [
    { sql: renderStatement({ AlterTableStmt: statement }), kind: 'column', concurrent: false, lockTimeout: true, table: table.name },
  ];
  const where = `${sqlName(table.name)}.${sqlName(column)}`;

  switch (command.subtype) {
    case 'AT_AddColumn': {
      const def = command.def && 'ColumnDef' in command.def ? command.def.ColumnDef : {};
      checkAddColumn(def, table, command.missing_ok === true);
      return asColumn();
    }
    case 'AT_AddConstraint': {
      const def = command.def && 'Constraint' in command.def ? command.def.Constraint : {};
      return planAddConstraint(statement, def, table, lookup);
    }
    case 'AT_ValidateConstraint':
      return [{ sql: renderStatement({ AlterTableStmt: statement }), kind: 'validate', concurrent: false, lockTimeout: true, table: table.name }];
    case 'AT_ColumnDefault': // SET / DROP DEFAULT: new rows only, the catalog alone changes
    case 'AT_DropNotNull':
      lookup.column(table, column, 'the column altered');
      return asColumn();
    case 'AT_SetNotNull':
      lookup.column(table, column, 'the column altered');
      throw new UnsafeDdlError(`SET NOT NULL on ${where} scans the whole table for NULLs under ACCESS EXCLUSIVE`, notNullRecipe(column));
    case 'AT_AlterColumnType':
      lookup.column(table, column, 'the column altered');
      throw new UnsafeDdlError(
        `ALTER COLUMN ${where} TYPE rewrites the table and rebuilds its indexes under ACCESS EXCLUSIVE (most type changes), and breaks gateways that read the old type`,
        EXPAND_CONTRACT,
      );
    case 'AT_DropColumn':
      throw new UnsafeDdlError(
        `DROP COLUMN ${where} removes what running gateways may still read or write`,
        'the contract step of expand/contract must be explicit and is not offered through this API: once no running gateway uses the column, drop it in a reviewed shard migration (shards/migrations/shard)',
      );
    case 'AT_SetTableSpace':
      throw new UnsafeDdlError(
        `SET TABLESPACE on ${sqlName(table.name)} copies the whole table under ACCESS EXCLUSIVE, blocking every read and write`,
        "leave storage placement to the shard's operator (a new shard and tenant moves move data online)",
      );
    default:
      throw new UnsafeDdlError(`ALTER TABLE ${sqlName(table.name)} ${sqlWords((command.subtype ?? 'AT_?').slice('AT_'.length))} is not a change this API plans`, 'send ADD COLUMN, ADD CONSTRAINT, VALIDATE CONSTRAINT, or ALTER COLUMN … SET DEFAULT / DROP DEFAULT / DROP NOT NULL');
  }
}
