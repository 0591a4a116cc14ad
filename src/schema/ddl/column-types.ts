import type { TypeName } from 'libpg-query';

// the grammar writes SQL-standard names (integer, boolean, timestamp, varchar…) as
// pg_catalog.<name>; these are the built-in types it leaves as typed
const BUILT_IN = new Set([
  'text', 'bool', 'bytea', 'char', 'name', 'int2', 'int4', 'int8', 'float4', 'float8', 'numeric', 'money',
  'date', 'time', 'timetz', 'timestamp', 'timestamptz', 'interval', 'uuid', 'json', 'jsonb', 'jsonpath', 'xml',
  'inet', 'cidr', 'macaddr', 'macaddr8', 'bit', 'varbit', 'varchar', 'bpchar', 'tsvector', 'tsquery', 'pg_lsn',
  'point', 'line', 'lseg', 'box', 'path', 'polygon', 'circle', 'oid',
  'int4range', 'int8range', 'numrange', 'tsrange', 'tstzrange', 'daterange',
  'int4multirange', 'int8multirange', 'nummultirange', 'tsmultirange', 'tstzmultirange', 'datemultirange',
  // an extension's base type, not a domain: the one the shard migrations create (0001-users)
  'hstore',
]);

// types whose input reads the clock for 'now', 'today', 'tomorrow' and 'yesterday'
const DATE_TIME = new Set(['date', 'time', 'timetz', 'timestamp', 'timestamptz']);

// shorthand for an integer column with DEFAULT nextval(a new sequence)
const SERIAL = new Set(['serial', 'serial2', 'serial4', 'serial8', 'smallserial', 'bigserial']);

function parts(type: TypeName): string[] {
  return (type.names ?? []).map((n) => ('String' in n ? (n.String.sval ?? '') : '?'));
}

/** The type as the operator would recognise it (`pg_catalog.int4[]`). */
export function typeLabel(type: TypeName): string {
  return `${parts(type).join('.')}${type.arrayBounds?.length ? '[]' : ''}`;
}

/**
 * A type known to be no domain. A column of a domain with constraints is written into every
 * row on ADD COLUMN (PostgreSQL checks the domain per row, under ACCESS EXCLUSIVE), and the
 * shard schema does not say what a user-defined name is, so only these are taken.
 */
export function isBuiltInType(type: TypeName): boolean {
  if (type.pct_type || type.setof) return false;
  const names = parts(type);
  if (names.length === 2) return names[0] === 'pg_catalog';
  return names.length === 1 && BUILT_IN.has(names[0]!);
}

export function isDateTimeType(type: TypeName): boolean {
  return DATE_TIME.has(parts(type).at(-1) ?? '');
}

export function isSerialType(type: TypeName): boolean {
  const names = parts(type);
  return names.length === 1 && SERIAL.has(names[0]!);
}
