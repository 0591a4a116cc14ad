import type { Keyring } from '../models/index.js';

/** One exported NDJSON line made another tenant's: `(line, fromTenant, toTenant) → line`. */
export type RebindRows = (line: string, from: string, to: string) => string;

/**
 * Rebinds restored rows to the tenant they are restored into: the tenant id of the row, and
 * every sealed column (its ciphertext is bound to tenant, table, column and row, so a copy
 * would not open under the new tenant) opened under the old place and sealed under the new.
 * The line is edited as text where it changes — the export's own JSON, never re-serialised,
 * so a numeric keeps every digit. `sealed` lists the encrypted columns by table.
 */
export function rebindRows(keyring: Keyring, sealed: Readonly<Record<string, readonly string[]>>): RebindRows {
  return (line, from, to) => {
    const { table, row } = JSON.parse(line) as { table: string; row: Record<string, unknown> };
    // row_to_json writes the pair with no space, and each row has one tenant_id at its top level
    let out = line.replace(`"tenant_id":${JSON.stringify(from)}`, `"tenant_id":${JSON.stringify(to)}`);
    for (const column of sealed[table] ?? []) {
      const value = row[column];
      if (typeof value !== 'string') continue;
      const rowId = String(row.id);
      const plaintext = keyring.open(value, { tenantId: from, table, column, rowId });
      out = out.replace(JSON.stringify(value), JSON.stringify(keyring.seal(plaintext, { tenantId: to, table, column, rowId })));
    }
    return out;
  };
}
