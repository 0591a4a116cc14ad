import type { RangeVar } from 'libpg-query';
import { UnsafeDdlError, sqlName } from './unsafe-ddl-error.js';

/** One table of the shard schema, as the planner needs to know it. */
export interface ShardTable {
  readonly columns: ReadonlySet<string>;
  /** the table's index names; a statement that names an index not listed here is refused */
  readonly indexes?: ReadonlySet<string>;
  /** a partitioned table (relkind 'p'): its indexes are built partition by partition, and it is not backfilled as one */
  readonly partitioned?: boolean;
}

/** The tables of a shard's `public` schema, by their exact (case-sensitive) names. */
export interface ShardSchema {
  readonly tables: ReadonlyMap<string, ShardTable>;
}

/** A table the statement named, found in the shard schema. */
export interface KnownTable extends ShardTable {
  readonly name: string;
}

const RECIPE_SCHEMA = 'name a table of the shard schema, unqualified or in public (the tables every shard migration creates)';

/**
 * The shard schema as the planner consults it: every lookup that fails refuses the statement,
 * so a plan never names a table, column or index a shard does not have.
 */
export class ShardSchemaLookup {
  constructor(private readonly schema: ShardSchema) {}

  /** The table a relation names; another schema or database is refused, since tenant tables live in public. */
  table(relation: RangeVar | undefined): KnownTable {
    if (!relation?.relname) throw new UnsafeDdlError('the statement names no table', RECIPE_SCHEMA);
    this.publicOnly(relation.catalogname ? [relation.catalogname, relation.schemaname ?? ''] : relation.schemaname, relation.relname);
    const table = this.schema.tables.get(relation.relname);
    if (!table) throw new UnsafeDdlError(`no table ${sqlName(relation.relname)} in the shard schema`, RECIPE_SCHEMA);
    return { name: relation.relname, ...table };
  }

  /** Refuses a column the table does not have, naming `role` (what the statement uses it for). */
  column(table: KnownTable, column: string, role: string): void {
    if (!table.columns.has(column)) {
      throw new UnsafeDdlError(
        `no column ${sqlName(column)} in table ${sqlName(table.name)} (named as ${role})`,
        `name a column the table has: ${[...table.columns].map(sqlName).join(', ')}`,
      );
    }
  }

  /** The table that owns an index, found by name across the schema (index names are unique per schema). */
  indexOwner(qualifier: string | undefined, index: string): KnownTable {
    this.publicOnly(qualifier, index);
    for (const [name, table] of this.schema.tables) {
      if (table.indexes?.has(index)) return { name, ...table };
    }
    throw new UnsafeDdlError(
      `no index ${sqlName(index)} on any table of the shard schema`,
      'name an index the shard schema lists (the plan must know its table to run it under the right lock)',
    );
  }

  /** The relation an index or table name would clash with, if any. */
  clash(name: string): string | undefined {
    if (this.schema.tables.has(name)) return `table ${sqlName(name)}`;
    for (const [table, { indexes }] of this.schema.tables) {
      if (indexes?.has(name)) return `index ${sqlName(name)} on ${sqlName(table)}`;
    }
    return undefined;
  }

  private publicOnly(qualifier: string | readonly string[] | undefined, name: string): void {
    const parts = typeof qualifier === 'string' ? [qualifier] : (qualifier ?? []);
    if (parts.length === 0 || (parts.length === 1 && parts[0] === 'public')) return;
    throw new UnsafeDdlError(
      `${sqlName(name)} is qualified as ${[...parts, name].map(sqlName).join('.')}: shard tables and their indexes live in schema public only`,
      `leave the name unqualified or write ${sqlName('public')}.${sqlName(name)}`,
    );
  }
}
