import type { AdminClient } from './admin-client.js';
import type { SnapshotDigest, TableDigest } from './tenant-rows.js';

/**
 * A moving tenant's changes, kept by the shard (migration 0013): while the tenant is in
 * `move_tracking`, every write of its rows adds its delta (rows ±1, ±hash) to
 * `move_row_deltas` in the writer's own transaction. A checksum taken on a snapshot plus
 * the deltas that snapshot did not see is the checksum now: the fenced verification reads
 * only what changed since the unfenced one.
 */

/** Deltas of tenants no longer tracked (a write that saw the tracking row may commit its delta after the tracking ended). */
const PURGE_SQL = `DELETE FROM move_row_deltas d WHERE NOT EXISTS (SELECT 1 FROM move_tracking m WHERE m.tracked_tenant = d.tracked_tenant)`;

/**
 * Starts tracking the tenant on one shard. Returns the transactions open right after
 * (virtual ids: a transaction that has not written yet has no xid but may hold a snapshot
 * from before tracking, and a write under it would not be tracked).
 */
export async function startTracking(client: AdminClient, tenantId: string, moveId: string): Promise<readonly string[]> {
  await client.query('DELETE FROM move_row_deltas WHERE tracked_tenant = $1', [tenantId]);
  await client.query(PURGE_SQL);
  await client.query(
    `INSERT INTO move_tracking (tracked_tenant, move_id) VALUES ($1, $2)
     ON CONFLICT (tracked_tenant) DO UPDATE SET move_id = EXCLUDED.move_id, started_at = now()`,
    [tenantId, moveId],
  );
  return openTransactions(client);
}

/** Virtual transaction ids of other sessions' open transactions (autovacuum's aside: it writes no tenant rows). */
async function openTransactions(client: AdminClient, among?: readonly string[]): Promise<string[]> {
  const { rows } = await client.query<{ vxid: string }>(
    `SELECT l.virtualxid AS vxid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'virtualxid' AND l.granted AND l.pid <> pg_backend_pid() AND a.backend_type <> 'autovacuum worker'
        AND ($1::text[] IS NULL OR l.virtualxid = ANY ($1::text[]))`,
    [among ?? null],
  );
  return rows.map((r) => r.vxid);
}

/**
 * Waits until every transaction open when tracking started has ended: after that, any
 * write a digest's snapshot does not see has its delta. False if some are still open at the deadline.
 */
export async function awaitUntracked(client: AdminClient, open: readonly string[], timeoutMs: number, pause: (ms: number) => Promise<void>): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (let delay = 5, left = [...open]; ; delay = Math.min(delay * 2, 200)) {
    if (left.length === 0) return true;
    left = await openTransactions(client, left);
    if (left.length === 0) return true;
    if (performance.now() > deadline) return false;
    await pause(delay);
  }
}

/** Per table, the rows and hash sum written since each table's digest snapshot (tables without changes are absent). */
export async function deltasSince(client: AdminClient, tenantId: string, digests: Readonly<Record<string, SnapshotDigest>>): Promise<Record<string, TableDigest>> {
  const tables = Object.keys(digests);
  if (tables.length === 0) return {};
  const { rows } = await client.query<{ tbl: string; rows: string; sum: string }>(
    `SELECT d.tbl, sum(d.rows)::bigint::text AS rows, sum(d.sum)::text AS sum
       FROM move_row_deltas d
       JOIN unnest($2::text[], $3::text[]) AS s(tbl, snap) ON s.tbl = d.tbl
      WHERE d.tracked_tenant = $1 AND NOT pg_visible_in_snapshot(d.xid, s.snap::pg_snapshot)
      GROUP BY d.tbl`,
    [tenantId, tables, tables.map((t) => digests[t]!.snapshot)],
  );
  return Object.fromEntries(rows.map((r) => [r.tbl, { rows: Number(r.rows), sum: r.sum }]));
}

/** The digests now: each snapshot's digest plus the changes it did not see. */
export function advance(digests: Readonly<Record<string, SnapshotDigest>>, deltas: Readonly<Record<string, TableDigest>>): Record<string, TableDigest> {
  return Object.fromEntries(
    Object.entries(digests).map(([table, d]) => {
      const change = deltas[table];
      return [table, change ? { rows: d.rows + change.rows, sum: (BigInt(d.sum || '0') + BigInt(change.sum)).toString() } : { rows: d.rows, sum: d.sum || '0' }];
    }),
  );
}

/** How long stopping waits for the writes that may still add a delta before it purges. */
const STOP_WAIT_MS = 2_000;

/**
 * Stops tracking the tenant (only this move's, when given), then, once the transactions
 * that could still add a delta have ended (at most a moment), drops every untracked delta.
 */
export async function stopTracking(client: AdminClient, tenantId: string, moveId?: string): Promise<void> {
  if (moveId === undefined) await client.query('DELETE FROM move_tracking WHERE tracked_tenant = $1', [tenantId]);
  else await client.query('DELETE FROM move_tracking WHERE tracked_tenant = $1 AND move_id = $2', [tenantId, moveId]);
  const open = await openTransactions(client);
  await awaitUntracked(client, open, STOP_WAIT_MS, (ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  await client.query(PURGE_SQL);
}
