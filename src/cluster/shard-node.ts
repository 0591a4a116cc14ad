import { beginInOneStatement, scopedTo } from './transaction-statements.js';
import { Sequelize, type Transaction, type TransactionOptions } from 'sequelize';
import type { Lsn } from './lsn.js';
import { parseLsn } from './lsn.js';
import { TenantScopedQuery } from './tenant-scoped-query.js';
import { defineShardModels, type ModelDeps, type ShardModels } from '../models/index.js';
import type { PgTls } from '../transport/pg-tls.js';
import { observeConnection, type NodeRole, type StatementObserver } from './statement-observer.js';

export type { NodeRole } from './statement-observer.js';

export interface NodeHealth {
  healthy: boolean;
  /** primary: last pg_current_wal_lsn(); replica: last pg_last_wal_replay_lsn() */
  lsn: Lsn | undefined;
  lagBytes: number;
  lagMs: number;
  checkedAt: number;
  error: string | undefined;
}

export interface PoolStats {
  readonly size: number;
  readonly available: number;
  readonly using: number;
  readonly waiting: number;
  readonly max: number;
}

export interface NodeSettings {
  readonly poolMax: number;
  readonly poolMin: number;
  readonly poolIdleMs: number;
  readonly poolAcquireMs: number;
  readonly statementTimeoutMs: number;
  readonly idleInTransactionTimeoutMs: number;
  readonly connectTimeoutMs: number;
  /**
   * A role every tenant-scoped statement takes (SET LOCAL ROLE): only where the login role
   * is privileged and cannot be changed (the embedded default's single superuser backend).
   */
  readonly requestRole?: string | undefined;
  /** tenant-scoped statements prepared once per connection (TenantScopedQuery); false: parsed with each run */
  readonly preparedStatements?: boolean;
  /** TLS of this node's connections (its pool and its health probe) */
  readonly tls: PgTls;
}

/** The parts of Sequelize's connection manager and pooled pg connection that `query` uses. */
interface PooledConnection {
  query<R>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
  query(submittable: TenantScopedQuery): unknown;
  _invalid?: boolean;
  /** pg's pipeline mode: queries are sent without waiting for the ones before them to be answered */
  pipeline?: boolean;
  /** pg's wire connection: its socket is what `abortInFlight` cuts */
  connection?: { stream?: { destroy(): void } };
}
interface PoolManager {
  getConnection(options: { type: 'read' | 'write' }): Promise<PooledConnection>;
  releaseConnection(connection: PooledConnection): Promise<void>;
}
type SequelizeQueryClass = new (connection: PooledConnection, sequelize: Sequelize, options: object) => { formatError(err: Error): Error };

/**
 * One PostgreSQL server of a shard: its own Sequelize instance and its own set of models
 * (never Sequelize's `replication` option, which picks replicas per connection with no
 * health or lag awareness). Health is written by the HealthMonitor, read by the router.
 */
export class ShardNode {
  readonly sequelize: Sequelize;
  readonly models: ShardModels;
  /** see NodeSettings.requestRole */
  readonly requestRole: string | undefined;
  /** see NodeSettings.tls */
  readonly tls: PgTls;
  health: NodeHealth = { healthy: false, lsn: undefined, lagBytes: 0, lagMs: 0, checkedAt: 0, error: 'not checked yet' };
  /** connections checked out of the pool now, by anyone (models, transactions, `query`) */
  readonly #inUse = new Set<PooledConnection>();
  readonly #prepared: boolean;

  constructor(
    readonly shardId: string,
    readonly role: NodeRole,
    /** stable name for headers, spans and metrics: 'primary' or the replica's name */
    readonly name: string,
    /** connection URL (with credentials): never log it; use redactUrl */
    readonly url: string,
    settings: NodeSettings,
    modelDeps: ModelDeps,
    /** told of every statement this node's pool runs (metrics, the slow-query log, tenant usage) */
    private readonly observer?: StatementObserver,
  ) {
    // TLS comes from db.tls alone: the URL's own TLS parameters are dropped
    const connection = settings.tls.sequelize(url);
    this.sequelize = new Sequelize(connection.url, {
      dialect: 'postgres',
      hooks: connection.hooks,
      // statements are observed on the connection (observeConnection), with their rows and the request they ran for
      logging: false,
      pool: { max: settings.poolMax, min: settings.poolMin, idle: settings.poolIdleMs, acquire: settings.poolAcquireMs, evict: 1000 },
      dialectOptions: {
        application_name: `shardgate:${shardId}:${name}`,
        statement_timeout: settings.statementTimeoutMs,
        idle_in_transaction_session_timeout: settings.idleInTransactionTimeoutMs,
        // no JIT: the gateway's statements are short, and a plan whose cost estimate is large
        // (a lateral probe over a partitioned table's days) compiled for 1.6 s to run for 30 ms
        options: '-c jit=off',
        connectionTimeoutMillis: settings.connectTimeoutMs,
        // client-side bound: a hung server (SIGSTOP) never enforces statement_timeout itself
        query_timeout: settings.statementTimeoutMs > 0 ? settings.statementTimeoutMs + 1000 : undefined,
        keepAlive: true,
      },
      retry: { max: 0 },
    });
    beginInOneStatement(this.sequelize);
    this.models = defineShardModels(this.sequelize, modelDeps);
    this.requestRole = settings.requestRole;
    this.#prepared = settings.preparedStatements ?? true;
    this.tls = settings.tls;
    this.#trackCheckouts();
  }

  /**
   * Cuts every connection checked out now: their statements fail at once as a lost
   * connection (a 503 with Retry-After, or a read retried on another node) instead of
   * waiting out the client-side query timeout on a server that stopped answering — a hung
   * server cannot enforce its own statement_timeout. The pool drops them on release. Called
   * when the health probe finds the node gone; returns how many were cut.
   */
  abortInFlight(): number {
    let cut = 0;
    for (const connection of this.#inUse) {
      connection._invalid = true;
      connection.connection?.stream?.destroy();
      cut++;
    }
    return cut;
  }

  /** Every checkout and release of the pool, whoever makes it, passes here. */
  #trackCheckouts(): void {
    const manager = this.sequelize.connectionManager as unknown as PoolManager;
    const getConnection = manager.getConnection.bind(manager);
    const releaseConnection = manager.releaseConnection.bind(manager);
    manager.getConnection = async (options) => {
      const connection = await getConnection(options);
      this.#inUse.add(connection);
      if (this.observer) observeConnection(connection as unknown as Parameters<typeof observeConnection>[0], this, this.observer);
      return connection;
    };
    manager.releaseConnection = async (connection) => {
      this.#inUse.delete(connection);
      return releaseConnection(connection);
    };
  }

  /** The primary's current WAL write position (after a commit: covers that commit). */
  async currentWalLsn(): Promise<Lsn | undefined> {
    const rows = await this.query<{ lsn: string | null }>(WAL_POSITION_SQL, []);
    const text = rows[0]?.lsn;
    return text ? parseLsn(text) : undefined;
  }

  /**
   * A transaction on this node scoped to the tenant (row-level security) from its first
   * statement, which carries the scope: one round trip for START TRANSACTION, its isolation
   * level and the scope. See TenantScopedQuery for statements outside a transaction.
   */
  transaction<T>(tenantId: string, options: TransactionOptions, work: (t: Transaction) => Promise<T>): Promise<T> {
    return this.sequelize.transaction(scopedTo({ tenantId, role: this.requestRole }, options), work);
  }

  /**
   * `transaction`, committed with the node's WAL position read after the commit in the same
   * round trip (`COMMIT; SELECT pg_current_wal_lsn()` as one simple-protocol query: the select
   * runs only once the commit has succeeded, and is past its commit record) — a write
   * transaction's consistency token without a round trip of its own. Committed here rather
   * than by Sequelize, whose commit discards its statement's result; a failed commit leaves
   * the connection's state unknown, so it is destroyed, as Sequelize does.
   */
  async transactionCommitted<T>(tenantId: string, options: TransactionOptions, work: (t: Transaction) => Promise<T>): Promise<{ result: T; lsn: Lsn | undefined }> {
    const t = (await this.sequelize.transaction(scopedTo({ tenantId, role: this.requestRole }, options))) as Transaction & Finishable;
    let result: T;
    try {
      result = await work(t);
    } catch (err) {
      if (!t.finished) await t.rollback().catch(() => undefined);
      throw err;
    }
    // straight on the transaction's connection: Sequelize's query path costs more CPU than the round trip it saves
    const connection = t.connection;
    let results: unknown;
    try {
      results = await connection.query(`COMMIT; ${WAL_POSITION_SQL}`);
    } catch (err) {
      t.finished = 'commit';
      await t.forceCleanup();
      throw this.#driverError(connection, err);
    }
    t.finished = 'commit';
    t.cleanup();
    const at = (Array.isArray(results) ? (results[1] as { rows?: Array<{ lsn?: string | null }> } | undefined)?.rows?.[0]?.lsn : undefined) ?? undefined;
    return { result, lsn: at ? parseLsn(at) : undefined };
  }

  /**
   * One parameterised statement (no transaction) on a connection of this node's pool, for
   * the hottest paths: `sequelize.query` spends more CPU than the driver does on a point
   * read (options cloning, a uuid per query, rewriting $n parameters, hooks, a retry
   * wrapper). Same pool, connection settings and type parsers; the statement observer sees it;
   * failures come back as Sequelize's errors, so `translateDbError` maps them as before.
   * With a tenant, the statement runs under that tenant's row-level security scope, still
   * in one round trip (TenantScopedQuery).
   */
  async query<R>(text: string, values: readonly unknown[], tenantId?: string): Promise<R[]> {
    return this.#pooled(async (connection) =>
      tenantId === undefined
        ? (await connection.query<R>(text, values as unknown[])).rows
        : // a prepared statement whose table changed shape (a column added under `RETURNING *`)
          // fails before it runs, once per connection; made again, it runs
          (await this.#scopedQuery<R>(connection, text, values, tenantId).catch((err: unknown) => {
            if (!isStalePlan(err)) throw err;
            return this.#scopedQuery<R>(connection, text, values, tenantId);
          })).rows,
    );
  }

  /**
   * One tenant-scoped statement, autocommitted, and then this node's WAL position, in one
   * round trip: the position is read in a second batch pipelined behind the statement's Sync
   * (pg's pipeline mode, on this checked-out connection only), so it runs once the statement
   * has committed and is past its commit record — a write's consistency token without a
   * round trip of its own. `lsn` is undefined when the position could not be read with it.
   */
  async queryCommitted<R>(text: string, values: readonly unknown[], tenantId: string): Promise<{ rows: R[]; lsn: Lsn | undefined }> {
    return this.#pooled(async (connection) => {
      let statement: Promise<{ rows: R[] }>;
      let position: Promise<{ rows: Array<{ lsn: string | null }> }>;
      connection.pipeline = true;
      try {
        statement = this.#scopedQuery<R>(connection, text, values, tenantId);
        position = connection.query<{ lsn: string | null }>(WAL_POSITION_SQL, []);
        await Promise.allSettled([statement, position]);
      } finally {
        connection.pipeline = false;
      }
      try {
        const rows = (await statement).rows;
        const at = (await position.catch(() => undefined))?.rows[0]?.lsn;
        return { rows, lsn: at ? parseLsn(at) : undefined };
      } catch (err) {
        if (!isStalePlan(err)) throw err;
        // made again (see `query`), on its own: the position read beside the failed run predates it
        return { rows: (await this.#scopedQuery<R>(connection, text, values, tenantId)).rows, lsn: undefined };
      }
    });
  }

  /**
   * `run` on a connection of this node's pool, released after (the statement observer sees
   * each statement sent on it); its failure comes back as Sequelize's error (`#driverError`).
   */
  async #pooled<T>(run: (connection: PooledConnection) => Promise<T>): Promise<T> {
    const manager = this.sequelize.connectionManager as unknown as PoolManager;
    const connection = await manager.getConnection({ type: this.role === 'primary' ? 'write' : 'read' });
    try {
      return await run(connection);
    } catch (err) {
      throw this.#driverError(connection, err);
    } finally {
      void manager.releaseConnection(connection);
    }
  }

  /**
   * One connection of this node's pool held for `work`, for what must run on one
   * connection across several round trips outside a Sequelize transaction (a two-phase
   * participant: BEGIN … PREPARE TRANSACTION). Failures come back as Sequelize's errors,
   * like `query`'s; a connection `work` leaves inside a transaction is rolled back before
   * it returns to the pool, and one that failed at the connection level leaves it.
   */
  async withConnection<T>(work: (query: <R>(text: string, values?: readonly unknown[]) => Promise<R[]>) => Promise<T>): Promise<T> {
    const manager = this.sequelize.connectionManager as unknown as PoolManager;
    const connection = await manager.getConnection({ type: this.role === 'primary' ? 'write' : 'read' });
    let open = false;
    const query = async <R>(text: string, values: readonly unknown[] = []): Promise<R[]> => {
      try {
        const result = await connection.query<R>(text, values as unknown[]);
        if (/^\s*BEGIN\b/i.test(text)) open = true;
        else if (/^\s*(COMMIT|ROLLBACK|PREPARE\s+TRANSACTION)\b/i.test(text)) open = false;
        return result.rows;
      } catch (err) {
        throw this.#driverError(connection, err);
      }
    };
    try {
      return await work(query);
    } finally {
      if (open && !connection._invalid) await connection.query('ROLLBACK', []).catch(() => (connection._invalid = true));
      void manager.releaseConnection(connection);
    }
  }

  /** A driver error as Sequelize's own query reports it; a connection that failed this way leaves the pool. */
  #driverError(connection: PooledConnection, err: unknown): Error {
    const { code, message } = err as { code?: string; message?: string };
    if (code === 'ECONNRESET' || message === 'Query read timeout') connection._invalid = true;
    const Query = (this.sequelize as unknown as { dialect: { Query: SequelizeQueryClass } }).dialect.Query;
    return new Query(connection, this.sequelize, {}).formatError(err as Error);
  }

  #scopedQuery<R>(connection: PooledConnection, text: string, values: readonly unknown[], tenantId: string): Promise<{ rows: R[] }> {
    return new Promise((resolve, reject) => {
      const callback = (err: Error | null, res: { rows: R[] }) => (err ? reject(err) : resolve(res));
      connection.query(new TenantScopedQuery({ text, values: values as unknown[], callback }, { tenantId, role: this.requestRole }, this.#prepared));
    });
  }

  /** The node's connection pool right now (for gauges and /admin/shards). */
  poolStats(): PoolStats {
    const pool = (this.sequelize.connectionManager as unknown as { pool?: Partial<Record<'size' | 'available' | 'using' | 'waiting' | 'maxSize', number>> }).pool;
    return { size: pool?.size ?? 0, available: pool?.available ?? 0, using: pool?.using ?? 0, waiting: pool?.waiting ?? 0, max: pool?.maxSize ?? 0 };
  }

  async close(): Promise<void> {
    await this.sequelize.close();
  }
}

const WAL_POSITION_SQL = 'SELECT pg_current_wal_lsn()::text AS lsn';

/** What committing a Sequelize transaction by hand has to do that its `commit()` does (sequelize 6's Transaction). */
interface Finishable {
  readonly connection: PooledConnection;
  finished?: string;
  cleanup(): void;
  forceCleanup(): Promise<void>;
}

/** PostgreSQL's refusal to run a prepared statement whose result columns changed since it was planned. */
function isStalePlan(err: unknown): boolean {
  const { code, message } = err as { code?: unknown; message?: unknown };
  return code === '0A000' && typeof message === 'string' && message.includes('cached plan must not change result type');
}
