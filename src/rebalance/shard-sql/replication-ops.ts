import type { AdminClient } from './admin-client.js';
import { parseLsn } from '../../cluster/lsn.js';
import {
  createPublicationSql, createSubscriptionSql, detachSlotSql, disableSubscriptionSql, dropPublicationSql, dropSubscriptionSql, type TenantTable,
} from './shard-admin-sql.js';

export interface SubscriptionStatus {
  readonly oid: string;
  readonly enabled: boolean;
  /** table count per pg_subscription_rel state: i(nit), d(ata copy), f(inished copy), s(ynced), r(eady) */
  readonly states: Readonly<Record<string, number>>;
  readonly errors: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Source side: the publication of one move, the slot its subscription streams from. */
export async function createPublication(source: AdminClient, name: string, tables: readonly TenantTable[], tenantId: string): Promise<void> {
  await source.query(dropPublicationSql(name));
  await source.query(createPublicationSql(name, tables, tenantId));
}

/** Target side: CREATE SUBSCRIPTION runs outside a transaction block (it connects to the source to check the publication). */
export async function createSubscription(target: AdminClient, name: string, sourceConninfo: string): Promise<string> {
  await target.query(createSubscriptionSql(name, sourceConninfo));
  const status = await subscriptionStatus(target, name);
  if (!status) throw new Error(`subscription ${name} vanished right after it was created`);
  return status.oid;
}

export async function subscriptionStatus(target: AdminClient, name: string): Promise<SubscriptionStatus | undefined> {
  const { rows } = await target.query<{ oid: string; enabled: boolean; states: Record<string, number> | null; errors: string }>(
    `SELECT s.oid::text AS oid, s.subenabled AS enabled,
            (SELECT json_object_agg(x.st, x.n) FROM (SELECT sr.srsubstate::text AS st, count(*) AS n FROM pg_subscription_rel sr
              WHERE sr.srsubid = s.oid GROUP BY 1) x) AS states,
            (coalesce(st.apply_error_count, 0) + coalesce(st.sync_error_count, 0))::text AS errors
       FROM pg_subscription s LEFT JOIN pg_stat_subscription_stats st ON st.subid = s.oid
      WHERE s.subname = $1 AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [name],
  );
  const r = rows[0];
  return r ? { oid: r.oid, enabled: r.enabled, states: r.states ?? {}, errors: Number(r.errors) } : undefined;
}

/** How far (bytes) the target's apply worker trails the source's flushed WAL; infinite while it has received nothing. */
export async function streamLagBytes(source: AdminClient, target: AdminClient, name: string): Promise<number> {
  const [{ rows: src }, { rows: dst }] = await Promise.all([
    source.query<{ lsn: string }>('SELECT pg_current_wal_flush_lsn()::text AS lsn'),
    target.query<{ lsn: string | null }>('SELECT received_lsn::text AS lsn FROM pg_stat_subscription WHERE subname = $1 AND relid IS NULL', [name]),
  ]);
  const received = dst[0]?.lsn ? parseLsn(dst[0].lsn) : undefined;
  const flushed = parseLsn(src[0]!.lsn);
  if (received === undefined || flushed === undefined) return Number.POSITIVE_INFINITY;
  return flushed > received ? Number(flushed - received) : 0;
}

/**
 * Has the target's apply worker received the source's WAL up to `lsn`? Received in
 * order means applied: the worker applies each transaction's messages before it reads
 * the next message, and a position past the last transaction of the tenant arrives only
 * in a later message (a keepalive, as the fenced tenant writes nothing more). Faster than
 * the slot's confirmed_flush_lsn, which trails by the target's WAL writer delay (apply
 * commits are asynchronous); flushTarget() then makes the applied rows durable.
 */
export async function subscriptionReceived(target: AdminClient, name: string, lsn: string): Promise<boolean> {
  const { rows } = await target.query<{ ok: boolean | null }>(
    'SELECT received_lsn >= $2::pg_lsn AS ok FROM pg_stat_subscription WHERE subname = $1 AND relid IS NULL',
    [name, lsn],
  );
  return rows[0]?.ok === true;
}

/**
 * Flushes the target's WAL up to now: a transaction with an xid commits synchronously,
 * and its flush covers every commit before it, the apply worker's included.
 */
export async function flushTarget(target: AdminClient): Promise<void> {
  // one round trip: it runs inside the tenant's write pause
  try {
    await target.query('BEGIN; SET LOCAL synchronous_commit = on; SELECT pg_current_xact_id(); COMMIT');
  } catch (err) {
    await target.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * Drops the subscription. The plain DROP also drops its slot (and table-sync slots) on
 * the source; when the source cannot be reached that fails, and the subscription is
 * detached from its slot first (the slot is then dropped on the source by dropSlots).
 */
export async function dropSubscription(target: AdminClient, name: string): Promise<'dropped' | 'detached'> {
  try {
    await target.query(dropSubscriptionSql(name));
    return 'dropped';
  } catch {
    await target.query(disableSubscriptionSql(name)).catch(() => undefined);
    await target.query(detachSlotSql(name)).catch(() => undefined);
    await target.query(dropSubscriptionSql(name));
    return 'detached';
  }
}

export async function dropPublication(source: AdminClient, name: string): Promise<void> {
  await source.query(dropPublicationSql(name));
}

/**
 * Drops whatever slots of the move are left on the source: the subscription's own and
 * the temporary table-sync slots (`pg_<subscription oid>_sync_…`). A slot still in use
 * by a walsender (the target alive but unreachable to us) has that walsender ended first.
 */
export async function dropSlots(source: AdminClient, name: string, subscriptionOid: string | undefined): Promise<string[]> {
  const dropped: string[] = [];
  for (let attempt = 0; attempt < 5; attempt++) {
    const { rows } = await source.query<{ slot_name: string; active_pid: number | null }>(
      `SELECT slot_name, active_pid FROM pg_replication_slots
        WHERE slot_name = $1 OR ($2::text IS NOT NULL AND slot_name LIKE 'pg\\_' || $2 || '\\_sync\\_%')`,
      [name, subscriptionOid ?? null],
    );
    if (rows.length === 0) return dropped;
    for (const slot of rows) {
      try {
        if (slot.active_pid !== null) await source.query('SELECT pg_terminate_backend($1)', [slot.active_pid]);
        await source.query('SELECT pg_drop_replication_slot($1)', [slot.slot_name]);
        dropped.push(slot.slot_name);
      } catch {
        // still active (the walsender is exiting): next round
      }
    }
    await sleep(200 * (attempt + 1));
  }
  throw new Error(`could not drop replication slot(s) of ${name} on the source`);
}

/** Both servers' system identifiers: a subscription to a database of its own server would hang creating its slot. */
export async function systemIdentifier(client: AdminClient): Promise<string> {
  const { rows } = await client.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()');
  return rows[0]!.id;
}
