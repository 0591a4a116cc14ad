import pg from 'pg';

export interface AdminClientOptions {
  /** ms one statement of the mover may take (creating a slot waits for running transactions) */
  readonly statementTimeoutMs: number;
  readonly connectTimeoutMs: number;
}

export type AdminClient = pg.Client;

/**
 * A connection of its own for the mover, outside the gateway's pools: the mover's long
 * statements must not hold request connections, CREATE SUBSCRIPTION must run outside a
 * transaction block, and the fence lock lives as long as this session. Output settings
 * are pinned so row checksums read the same on every server.
 */
export async function openAdminClient(url: string, options: AdminClientOptions, purpose: string): Promise<AdminClient> {
  const client = new pg.Client({
    connectionString: url,
    application_name: `shardgate:mover:${purpose}`.slice(0, 63),
    statement_timeout: options.statementTimeoutMs,
    connectionTimeoutMillis: options.connectTimeoutMs,
    options: '-c TimeZone=UTC -c DateStyle=ISO,YMD -c IntervalStyle=postgres -c extra_float_digits=3',
  });
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
