import pg from 'pg';
import type { PgTls } from '../../transport/pg-tls.js';

export interface AdminClientOptions {
  /** ms one statement of the mover may take (creating a slot waits for running transactions) */
  readonly statementTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly tls: PgTls;
}

export type AdminClient = pg.Client;

/** node-postgres opens a walsender connection with `replication: 'database'`; its type declarations lack the field. */
type ClientConfig = pg.ClientConfig & { replication?: 'database' };

/**
 * A connection of its own for the mover, outside the gateway's pools: the mover's long
 * statements must not hold request connections, CREATE SUBSCRIPTION must run outside a
 * transaction block, and the fence lock lives as long as this session. Output settings
 * are pinned so row checksums read the same on every server.
 */
export async function openAdminClient(url: string, options: AdminClientOptions, purpose: string, mode: 'sql' | 'replication' = 'sql'): Promise<AdminClient> {
  const config: ClientConfig = {
    ...(await options.tls.clientOptions(url)),
    application_name: `shardgate:mover:${purpose}`.slice(0, 63),
    statement_timeout: options.statementTimeoutMs,
    connectionTimeoutMillis: options.connectTimeoutMs,
    // no JIT, no parallel workers: a digest of a few thousand rows (inside the tenant's write
    // pause) was planned as a Parallel Append and spent ~60 ms launching workers; the mover
    // spreads big work over connections of its own
    options: '-c TimeZone=UTC -c DateStyle=ISO,YMD -c IntervalStyle=postgres -c extra_float_digits=3 -c jit=off -c max_parallel_workers_per_gather=0',
    // a logical walsender: takes replication commands (CREATE_REPLICATION_SLOT) in the simple query protocol
    ...(mode === 'replication' ? { replication: 'database' as const } : {}),
  };
  const client = new pg.Client(config);
  // an idle admin connection that dies (server restart) must not crash the process
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

export async function withAdminClient<T>(url: string, options: AdminClientOptions, purpose: string, work: (client: AdminClient) => Promise<T>): Promise<T> {
  const client = await openAdminClient(url, options, purpose);
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Runs `work` in one transaction on the client (BEGIN/COMMIT, ROLLBACK on error). */
export async function inAdminTransaction<T>(client: AdminClient, work: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const out = await work();
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
