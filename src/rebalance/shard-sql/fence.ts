import type pg from 'pg';
import { openAdminClient, type AdminClient, type AdminClientOptions } from './admin-client.js';

/** Advisory lock class of the fence: the trigger tries (7301, hashtext(tenant)) shared. */
const FENCE_LOCK_CLASS = 7301;

export interface PlacedFence {
  readonly hold: FenceHold;
  /** the source's flushed WAL position after the fence committed: the target is complete once it has received this */
  readonly lsn: string;
  /** ms spent waiting for the tenant's in-flight writes to finish */
  readonly drainMs: number;
  /** performance.now() when the lock was requested: from then on the tenant's writes are refused */
  readonly fencedFrom: number;
}

/**
 * The fence on the source while a move is fenced: a session holding the tenant's
 * exclusive fence lock, and its row in tenant_fences (which outlives the session, so a
 * crashed mover leaves the tenant fenced, never half-moved and writable on both sides).
 */
export class FenceHold {
  private constructor(private readonly client: AdminClient) {}

  /**
   * Takes the lock (waiting at most lockTimeoutMs for writes already in flight, while new
   * writes are refused), then commits the fence row, then reads the WAL position.
   */
  static async place(url: string, options: AdminClientOptions, tenantId: string, moveId: string, lockTimeoutMs: number): Promise<PlacedFence> {
    const client = await openAdminClient(url, options, 'fence');
    try {
      // tables added since the last migration get the trigger before the fence counts on it
      await client.query('SELECT public.shardgate_apply_fence_triggers()');
      await client.query(`SET lock_timeout = ${Math.max(1, Math.floor(lockTimeoutMs))}`);
      // the fence row's commit must be flushed before its position is read (the server may commit asynchronously)
      await client.query('SET synchronous_commit = on');
      const started = performance.now();
      const tenant = client.escapeLiteral(tenantId);
      // one round trip inside the pause: the lock (waiting for the writes in flight), the
      // fence row committed (and flushed), then — after that commit — the flushed position;
      // the flushed one, not the written one: the walsender streams only flushed WAL, so a
      // position past it (other sessions' WAL written, not yet flushed) would keep the target
      // from ever "receiving" it until the WAL writer's next flush (seconds when idle)
      const results = (await client.query(
        `SELECT extract(epoch FROM clock_timestamp()) * 1000 AS ms;
         SELECT pg_advisory_lock(${FENCE_LOCK_CLASS}, hashtext(${tenant}));
         SELECT extract(epoch FROM clock_timestamp()) * 1000 AS ms;
         BEGIN;
         INSERT INTO tenant_fences (tenant_id, move_id, fenced_at) VALUES (${tenant}, ${client.escapeLiteral(moveId)}, now())
           ON CONFLICT (tenant_id) DO UPDATE SET move_id = EXCLUDED.move_id, fenced_at = EXCLUDED.fenced_at;
         COMMIT;
         SELECT pg_current_wal_flush_lsn()::text AS lsn`,
      )) as unknown as Array<pg.QueryResult<{ ms?: string; lsn?: string }>>;
      const drainMs = Number(results[2]!.rows[0]!.ms) - Number(results[0]!.rows[0]!.ms);
      const lsn = results[6]!.rows[0]!.lsn!;
      return { hold: new FenceHold(client), lsn, drainMs, fencedFrom: started };
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
  }

  /** Ends the session: the lock goes, the fence row stays until unfence() or for good. */
  async release(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}

/** Whether the tenant has a fence (or an earlier move's tombstone) on this shard. */
export async function hasFence(client: AdminClient, tenantId: string): Promise<boolean> {
  const { rowCount } = await client.query('SELECT 1 FROM tenant_fences WHERE tenant_id = $1', [tenantId]);
  return (rowCount ?? 0) > 0;
}

/** Puts the fence row back (a resumed move whose session, and so its lock, is gone). */
export async function ensureFenceRow(client: AdminClient, tenantId: string, moveId: string): Promise<void> {
  await client.query(
    `INSERT INTO tenant_fences (tenant_id, move_id) VALUES ($1, $2) ON CONFLICT (tenant_id) DO UPDATE SET move_id = EXCLUDED.move_id`,
    [tenantId, moveId],
  );
}

/**
 * Lifts the fence: the tenant is writable on this shard again. With a move id, only that
 * move's fence (a later move's fence or tombstone is left alone).
 */
export async function unfence(client: AdminClient, tenantId: string, moveId?: string): Promise<void> {
  if (moveId === undefined) await client.query('DELETE FROM tenant_fences WHERE tenant_id = $1', [tenantId]);
  else await client.query('DELETE FROM tenant_fences WHERE tenant_id = $1 AND move_id = $2', [tenantId, moveId]);
}
