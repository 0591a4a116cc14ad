import type { ColumnDef, Node } from 'libpg-query';
import { nonConstantDefault } from './constant-default.js';
import { isBuiltInType, isSerialType, typeLabel } from './column-types.js';
import type { KnownTable } from './shard-schema.js';
import { UnsafeDdlError, sqlName } from './unsafe-ddl-error.js';

const BACKFILL =
  'add the column with no default, then ALTER COLUMN … SET DEFAULT (it applies to new rows only), then backfill the existing rows in batches';

/**
 * Refuses an ADD COLUMN that would do more than change the catalog. Since PostgreSQL 11 a
 * column with no default or a constant one is metadata-only: the brief ACCESS EXCLUSIVE lock
 * is all it costs. Everything that makes PostgreSQL touch each row — a volatile default, a
 * generated or identity column, a domain type, NOT NULL with nothing to fill it, a
 * constraint or index built with it — is refused with the steps that avoid it.
 */
export function checkAddColumn(column: ColumnDef, table: KnownTable, ifNotExists: boolean): void {
  const name = column.colname ?? '';
  const where = `ADD COLUMN ${sqlName(name)} to ${sqlName(table.name)}`;
  if (table.columns.has(name) && !ifNotExists) {
    throw new UnsafeDdlError(`${where}: the table has that column already`, 'pick another name, or write ADD COLUMN IF NOT EXISTS');
  }
  const type = column.typeName;
  if (!type) throw new UnsafeDdlError(`${where}: the column has no type`, 'give the column a built-in type');
  if (isSerialType(type)) {
    throw new UnsafeDdlError(
      `${where}: ${typeLabel(type)} means DEFAULT nextval(…), a volatile default that rewrites every row under ACCESS EXCLUSIVE`,
      'add it as integer or bigint with no default, create its sequence, SET DEFAULT nextval(…) for new rows, then backfill the existing rows in batches',
    );
  }
  if (!isBuiltInType(type)) {
    throw new UnsafeDdlError(
      `${where}: ${typeLabel(type)} is not a built-in type, and a column of a domain with constraints is checked and written row by row under ACCESS EXCLUSIVE`,
      "add the column with the domain's base type, then add its rule as ADD CONSTRAINT … CHECK (planned NOT VALID, then VALIDATE)",
    );
  }

  let notNull = false;
  let defaultValue: Node | undefined;
  for (const node of column.constraints ?? []) {
    const constraint = 'Constraint' in node ? node.Constraint : {};
    switch (constraint.contype) {
      case 'CONSTR_NULL':
        break;
      case 'CONSTR_NOTNULL':
        notNull = true;
        break;
      case 'CONSTR_DEFAULT':
        defaultValue = constraint.raw_expr;
        break;
      case 'CONSTR_GENERATED':
        throw new UnsafeDdlError(
          `${where}: a generated column is computed into every row (STORED rewrites the table under ACCESS EXCLUSIVE; VIRTUAL does not exist before PostgreSQL 18)`,
          `${BACKFILL}, and keep it up to date from the application or a trigger`,
        );
      case 'CONSTR_IDENTITY':
        throw new UnsafeDdlError(
          `${where}: an identity column fills every existing row from its sequence, rewriting the table under ACCESS EXCLUSIVE`,
          'add it as bigint with no default, backfill it in batches, then make it an identity column in a reviewed shard migration',
        );
      case 'CONSTR_CHECK':
      case 'CONSTR_FOREIGN':
        throw new UnsafeDdlError(
          `${where}: a ${constraint.contype === 'CONSTR_CHECK' ? 'CHECK' : 'REFERENCES'} on the new column is validated against every row while ACCESS EXCLUSIVE is held`,
          'add the column bare, then send ALTER TABLE … ADD CONSTRAINT <name> … on its own: it is planned NOT VALID, then VALIDATE CONSTRAINT',
        );
      case 'CONSTR_PRIMARY':
      case 'CONSTR_UNIQUE':
        throw new UnsafeDdlError(
          `${where}: a ${constraint.contype === 'CONSTR_PRIMARY' ? 'PRIMARY KEY' : 'UNIQUE'} on the new column builds its index while ACCESS EXCLUSIVE is held`,
          'add the column bare, build the index with CREATE UNIQUE INDEX <name> (planned CONCURRENTLY), then ADD CONSTRAINT … UNIQUE USING INDEX <name>',
        );
      default:
        throw new UnsafeDdlError(`${where}: the column constraint ${constraint.contype ?? '?'} is not offered`, 'add the column bare and send each constraint as its own statement');
    }
  }

  const problem = defaultValue && nonConstantDefault(defaultValue, type);
  if (problem) throw new UnsafeDdlError(`${where} with that DEFAULT: ${problem}`, BACKFILL);
  if (notNull && (!defaultValue || isNull(defaultValue))) {
    throw new UnsafeDdlError(
      `${where} NOT NULL with no default: existing rows have nothing to fill it, so PostgreSQL scans the whole table under ACCESS EXCLUSIVE (and fails if it has rows)`,
      `give it a constant DEFAULT as well (metadata-only), or ${BACKFILL}, then add CHECK (${sqlName(name)} IS NOT NULL) NOT VALID, VALIDATE it, and SET NOT NULL`,
    );
  }
}

function isNull(expression: Node): boolean {
  if ('A_Const' in expression) return expression.A_Const.isnull === true;
  if ('TypeCast' in expression) return expression.TypeCast.arg !== undefined && isNull(expression.TypeCast.arg);
  return false;
}
