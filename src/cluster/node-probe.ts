import pg from 'pg';
import type { PgTls } from '../transport/pg-tls.js';

/** The node did not answer within the probe's timeout (it may be hung, or this process stalled). */
export class ProbeTimeoutError extends Error {
  override readonly name = 'ProbeTimeoutError';
}

export interface NodeProbeOptions {
  readonly connectTimeoutMs: number;
  /** a probe that takes longer counts as a failure and drops the connection */
  readonly timeoutMs: number;
  readonly applicationName: string;
  readonly tls: PgTls;
}

/**
 * One dedicated connection per node for health probes, outside the node's pool: a probe
 * must never queue behind application queries (a busy pool would read as a dead node), and
 * a hung server (SIGSTOP) must cost one socket, not a pool slot.
 */
export class NodeProbe {
  #client: pg.Client | undefined;
  #connecting: Promise<pg.Client> | undefined;

  constructor(
    private readonly url: string,
    private readonly options: NodeProbeOptions,
  ) {}

  async query<T extends pg.QueryResultRow>(sql: string): Promise<T | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ProbeTimeoutError(`probe timed out after ${this.options.timeoutMs} ms`)), this.options.timeoutMs);
    });
    try {
      const work = (async () => {
        const client = await this.connect();
        return (await client.query<T>(sql)).rows[0];
      })();
      work.catch(() => undefined); // a late failure after the timeout has nobody to tell
      return await Promise.race([work, timeout]);
    } catch (err) {
      this.drop();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  private connect(): Promise<pg.Client> {
    if (this.#client) return Promise.resolve(this.#client);
    this.#connecting ??= (async () => {
      const client = new pg.Client({
        ...(await this.options.tls.clientOptions(this.url)),
        connectionTimeoutMillis: this.options.connectTimeoutMs,
        application_name: this.options.applicationName,
        keepAlive: true,
      });
      client.on('error', () => this.drop());
      try {
        await client.connect();
        this.#client = client;
        return client;
      } finally {
        this.#connecting = undefined;
      }
    })();
    return this.#connecting;
  }

  /** Forget the connection; destroy the socket rather than wait for a hung server to answer. */
  drop(): void {
    const client = this.#client;
    this.#client = undefined;
    if (!client) return;
    const stream = (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
    stream?.destroy();
    client.end().catch(() => undefined);
  }

  close(): void {
    this.drop();
  }
}
