import type { PGlite } from '@electric-sql/pglite';

/** Something that can own the backend: one client connection. */
export interface BackendClient {
  readonly id: number;
}

export type EmbeddedLog = (level: 'info' | 'warn', message: string) => void;

/** After this long in the queue a waiter logs who holds the backend, to make a forgotten transaction visible. */
const STALL_WARN_MS = 5_000;

/**
 * The one PostgreSQL backend inside a PGlite instance, shared by every client connection.
 *
 * PGlite runs a single backend process: there is exactly one session (one pg_backend_pid,
 * one set of GUCs, one unnamed prepared statement, one transaction). Many TCP clients can
 * only share it by taking turns, and a turn must cover everything that lives in the session
 * between two idle points: an extended-protocol sequence up to its Sync (the unnamed
 * statement and portal) and a whole transaction block. A client therefore acquires the
 * backend with its first message and keeps it until the backend reports ReadyForQuery
 * with status 'I' (idle, no transaction) after a Sync or a simple Query.
 *
 * Turns are granted first come, first served. A client that opens a transaction and then
 * waits on something else (for example a query sent on another pooled connection) blocks
 * every client of this instance for good; the stall warning below names it.
 */
export class BackendTurns {
  #owner: BackendClient | undefined;
  readonly #waiters: Array<{ client: BackendClient; grant: () => void }> = [];

  constructor(
    private readonly db: PGlite,
    private readonly name: string,
    private readonly log: EmbeddedLog,
  ) {}

  isOwner(client: BackendClient): boolean {
    return this.#owner === client;
  }

  async acquire(client: BackendClient): Promise<void> {
    if (this.#owner === client) return;
    if (this.#owner === undefined && this.#waiters.length === 0) {
      this.#owner = client;
      return;
    }
    const since = Date.now();
    const timer = setTimeout(() => {
      const holder = this.#owner === undefined ? 'nobody' : `connection #${this.#owner.id}`;
      this.log(
        'warn',
        `embedded ${this.name}: connection #${client.id} has waited ${Date.now() - since} ms for the single ` +
          `PGlite session, held by ${holder} (an open transaction that is waiting on another query?)`,
      );
    }, STALL_WARN_MS);
    // a waiting client must never keep the process alive on its own
    timer.unref();
    await new Promise<void>((resolve) => {
      this.#waiters.push({
        client,
        grant: () => {
          clearTimeout(timer);
          this.#owner = client;
          resolve();
        },
      });
    });
  }

  release(client: BackendClient): void {
    if (this.#owner !== client) return;
    this.#owner = undefined;
    this.#waiters.shift()?.grant();
  }

  /**
   * Runs raw frontend messages on the backend. Callers must own the backend. runExclusive
   * keeps in-process users of the PGlite object (and its close()) out while this runs.
   */
  async exec(messages: Uint8Array, onData: (bytes: Uint8Array) => void): Promise<void> {
    await this.db.runExclusive(() => this.db.execProtocolRawStream(messages, { onRawData: onData }));
  }

  inTransaction(): boolean {
    return this.db.isInTransaction();
  }
}
