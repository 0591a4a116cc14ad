import { escapeIdentifier, escapeLiteral } from 'pg';

/**
 * The SQL text of a move's replication objects. Every name and value that reaches DDL
 * (which takes no bind parameters) is quoted by node-postgres' escapeIdentifier /
 * escapeLiteral; tenant ids may hold `.`, `:`, `-` and `_`, and nothing here trusts them.
 */

/** Publication, subscription and slot share this name: `sg_move_` + the move id's hex. */
export function replicationName(moveId: string): string {
  const hex = moveId.replaceAll('-', '').toLowerCase();
  if (!/^[0-9a-f]{1,48}$/.test(hex)) throw new Error(`move id ${JSON.stringify(moveId)} cannot name replication objects`);
  return `sg_move_${hex}`;
}

/** One table of the move: its name and, for checksums, its stored (non-generated) columns and key. */
export interface TenantTable {
  readonly name: string;
  readonly columns: readonly string[];
  readonly key: readonly string[];
  /** tables this one references by foreign key (delete children first, insert parents first) */
  readonly parents: readonly string[];
  /** columns exported in their text form (their type's own json cast would not read back) */
  readonly textColumns?: readonly string[];
  /** generated columns: left out of a row's hash (a BEFORE trigger sees them unset) */
  readonly generated?: readonly string[];
}

/** The stored columns as a select list for row_to_json, text-cast where the type's own json form would not read back. */
export function jsonSelectList(table: TenantTable): string {
  const asText = new Set(table.textColumns ?? []);
  return table.columns.map((c) => (asText.has(c) ? `${escapeIdentifier(c)}::text AS ${escapeIdentifier(c)}` : escapeIdentifier(c))).join(', ');
}

/**
 * Only the tenant's rows, and never TRUNCATE: a truncate on the source would empty the
 * whole table on the target, every tenant's rows with it. A partitioned table (series
 * points) publishes through its root: its row filter applies, and the target routes each
 * change to its own partition (day partitions need not match between shards).
 */
export function createPublicationSql(name: string, tables: readonly TenantTable[], tenantId: string): string {
  if (tables.length === 0) throw new Error('a move needs at least one tenant table');
  const filter = `WHERE (tenant_id = ${escapeLiteral(tenantId)})`;
  const list = tables.map((t) => `${escapeIdentifier(t.name)} ${filter}`).join(', ');
  return `CREATE PUBLICATION ${escapeIdentifier(name)} FOR TABLE ${list} WITH (publish = 'insert, update, delete', publish_via_partition_root = true)`;
}

/**
 * Streams from the slot the mover created (and whose exported snapshot it copied from):
 * no copy_data, no slot of its own. disable_on_error: an apply error (a conflicting row,
 * a schema difference) stops the subscription instead of retrying forever, and the mover
 * sees it and fails the move.
 */
export function createSubscriptionSql(name: string, sourceConninfo: string): string {
  return `CREATE SUBSCRIPTION ${escapeIdentifier(name)} CONNECTION ${escapeLiteral(sourceConninfo)} PUBLICATION ${escapeIdentifier(name)} ` +
    `WITH (copy_data = false, create_slot = false, slot_name = ${escapeLiteral(name)}, enabled = true, disable_on_error = true)`;
}

export const dropPublicationSql = (name: string): string => `DROP PUBLICATION IF EXISTS ${escapeIdentifier(name)}`;
export const dropSubscriptionSql = (name: string): string => `DROP SUBSCRIPTION IF EXISTS ${escapeIdentifier(name)}`;
export const disableSubscriptionSql = (name: string): string => `ALTER SUBSCRIPTION ${escapeIdentifier(name)} DISABLE`;
/** Detaches the subscription from its slot, so DROP SUBSCRIPTION does not need the source. */
export const detachSlotSql = (name: string): string => `ALTER SUBSCRIPTION ${escapeIdentifier(name)} SET (slot_name = NONE)`;

/**
 * `tenant_id = $1` rows of one table: count and an order-independent checksum, the sum of
 * each row's `shardgate_row_hash` (60 bits of the md5 of its jsonb form less generated
 * columns: the same hash the shard's change tracking adds and subtracts, migration 0013).
 * Summed as numeric: no sort, constant memory, no overflow.
 */
export function checksumSql(table: TenantTable): string {
  const generated = `ARRAY[${(table.generated ?? []).map(escapeLiteral).join(', ')}]::text[]`;
  return `SELECT count(*)::bigint::text AS rows, coalesce(sum(public.shardgate_row_hash(to_jsonb(t) - ${generated})), 0)::text AS sum ` +
    `FROM ${escapeIdentifier(table.name)} t WHERE tenant_id = $1`;
}

export const countSql = (table: TenantTable): string => `SELECT count(*)::bigint::text AS rows FROM ${escapeIdentifier(table.name)} WHERE tenant_id = $1`;
/**
 * At most $2 of the tenant's rows (ctid: no key needed). The outer `tenant_id = $1` is not
 * redundant: a ctid names a row only within one heap, and a partitioned table has one heap
 * per partition, so another tenant's row at the same ctid in another partition would match
 * too. With it, a collision can only reach more of this tenant's own rows.
 */
export const deleteTenantRowsSql = (table: TenantTable): string => {
  const name = escapeIdentifier(table.name);
  return `DELETE FROM ${name} WHERE tenant_id = $1 AND ctid = ANY (ARRAY(SELECT ctid FROM ${name} WHERE tenant_id = $1 LIMIT $2))`;
};

/**
 * Parents before children (the order to insert in; reversed, the order to delete in).
 * Self-references and cycles cannot be ordered by FKs alone: a cycle is reported.
 */
export function fkOrder(tables: readonly TenantTable[]): TenantTable[] {
  const byName = new Map(tables.map((t) => [t.name, t]));
  const out: TenantTable[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (t: TenantTable, path: string[]): void => {
    const s = state.get(t.name);
    if (s === 'done') return;
    if (s === 'visiting') throw new Error(`foreign keys form a cycle: ${[...path, t.name].join(' → ')}`);
    state.set(t.name, 'visiting');
    for (const parent of [...t.parents].sort()) {
      const p = byName.get(parent);
      if (p && p.name !== t.name) visit(p, [...path, t.name]);
    }
    state.set(t.name, 'done');
    out.push(t);
  };
  for (const t of [...tables].sort((a, b) => a.name.localeCompare(b.name))) visit(t, []);
  return out;
}
