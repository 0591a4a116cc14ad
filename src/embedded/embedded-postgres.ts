import fs from 'node:fs';
import path from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { loadPglite } from './pglite-module.js';
import type { EmbeddedLog } from './backend-turns.js';
import { DataDirLock } from './data-dir-lock.js';
import { WireServer } from './wire-server.js';

export interface EmbeddedPostgresOptions {
  /** directory holding this instance's data; created if missing; reused across restarts */
  readonly dataDir: string;
  /** logical name, for logs */
  readonly name: string;
  /** max concurrent client connections the socket server accepts */
  readonly maxConnections?: number;
  /** where stall warnings go; console by default */
  readonly log?: EmbeddedLog;
}

const DEFAULT_MAX_CONNECTIONS = 50;

const consoleLog: EmbeddedLog = (level, message) => (level === 'warn' ? console.warn(message) : console.info(message));

/**
 * PostgreSQL 18 in WebAssembly (PGlite), in this process, reachable as an ordinary
 * `postgres://` URL on 127.0.0.1 so the gateway treats it like any other server.
 *
 * What that server is not (the gateway must respect it):
 * - one backend session shared by all connections: SET, session advisory locks, temp
 *   tables and named prepared statements are visible to (and collide between) every
 *   connection; pg_advisory_lock never blocks and so excludes nobody;
 * - one statement at a time: a connection holds the whole instance from its first message
 *   until it is idle outside a transaction, so a transaction that waits for a query sent on
 *   another connection of the same instance never finishes;
 * - statements run on this process's main thread: a long one stalls the event loop;
 * - statement_timeout and lock_timeout are ignored; SET idle_in_transaction_session_timeout,
 *   idle_session_timeout or transaction_timeout hangs the whole process when it fires
 *   (settings sent in the startup packet, as Sequelize dialectOptions are, are ignored);
 * - no cancel requests, no TLS, no replication; COPY ... FROM STDIN is known to wedge it.
 * Memory: about 0.4 GB resident per instance right after initdb, 0.2 GB when reopening an
 * existing directory; WebAssembly memory grows with use and is only returned on close.
 */
export class EmbeddedPostgres {
  #closing: Promise<void> | undefined;

  private constructor(
    readonly name: string,
    readonly url: string,
    private readonly db: PGlite,
    private readonly server: WireServer,
    private readonly lock: DataDirLock,
  ) {}

  static async start(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
    const dataDir = path.resolve(options.dataDir);
    fs.mkdirSync(dataDir, { recursive: true });
    const lock = DataDirLock.acquire(dataDir);
    let db: PGlite | undefined;
    try {
      // an empty directory gets initdb (a few seconds); an existing one is reopened
      const { PGlite, hstore, btree_gin } = await loadPglite();
      // prepared transactions: transfers between tenants by two-phase commit work here too
      const startParams = [...PGlite.defaultStartParams, '-c', 'max_prepared_transactions=64'];
      db = await PGlite.create({ dataDir, extensions: { hstore, btree_gin }, startParams });
      // Sequelize looks up the hstore type oid when a connection opens, so it must exist first
      await db.exec('CREATE EXTENSION IF NOT EXISTS hstore');
      const server = await WireServer.listen(db, {
        name: options.name,
        maxConnections: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
        log: options.log ?? consoleLog,
      });
      // PGlite has no authentication: any user name is accepted, and there is one database
      const url = `postgres://postgres@127.0.0.1:${server.port}/postgres`;
      return new EmbeddedPostgres(options.name, url, db, server, lock);
    } catch (err) {
      if (db !== undefined) await db.close().catch(() => undefined);
      lock.release();
      throw err;
    }
  }

  /** Drops all clients (open transactions roll back), then checkpoints and closes PGlite. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      try {
        await this.server.close();
        await this.db.close();
      } finally {
        this.lock.release();
      }
    })();
    return this.#closing;
  }
}
