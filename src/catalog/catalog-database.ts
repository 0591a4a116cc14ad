import { Sequelize, QueryTypes, UniqueConstraintError, type Transaction } from 'sequelize';
import { runMigrations, MigrationLock } from '../schema/run-migrations.js';
import { catalogMigrations } from '../../shards/migrations/catalog/index.js';
import { CatalogUnavailableError, CONNECTION_FAILURE, GatewayError } from '../errors/errors.js';
import type { PgTls } from '../transport/pg-tls.js';
import { tlsFailureReason } from '../transport/connect-failure.js';

export interface CatalogDatabaseOptions {
  readonly url: string;
  readonly poolMax: number;
  readonly connectTimeoutMs: number;
  readonly statementTimeoutMs: number;
  readonly tls: PgTls;
}

/** A catalog row as the driver returns it; each store maps its own. */
export type Row = Record<string, unknown>;

/** The one statement that tells gateways their cached view of the catalog is stale. */
const BUMP_VERSION = 'UPDATE catalog_meta SET version = version + 1';
/** bumped when a key stops working (revoked, or its tenant suspended): gateways drop cached keys */
const BUMP_KEYS_VERSION = 'UPDATE catalog_meta SET keys_version = keys_version + 1';

/**
 * The catalog database: its one Sequelize instance, the queries every store runs through,
 * and the one mapping of an outage to CATALOG_UNAVAILABLE (so callers can fall back to
 * cached tenants and placement). The catalog version is bumped only here.
 */
export class CatalogDatabase {
  readonly #sequelize: Sequelize;

  constructor(options: CatalogDatabaseOptions) {
    const connection = options.tls.sequelize(options.url);
    this.#sequelize = new Sequelize(connection.url, {
      dialect: 'postgres',
      hooks: connection.hooks,
      logging: false,
      pool: { max: options.poolMax, min: 0, idle: 10_000, acquire: options.connectTimeoutMs + 1000 },
      dialectOptions: {
        application_name: 'shardgate:catalog',
        connectionTimeoutMillis: options.connectTimeoutMs,
        statement_timeout: options.statementTimeoutMs,
        // a hung catalog (SIGSTOP) never enforces statement_timeout: bound it client-side
        query_timeout: (options.statementTimeoutMs || 5000) + 1000,
      },
      retry: { max: 0 },
    });
  }

  async migrate(): Promise<string[]> {
    return runMigrations(this.#sequelize, catalogMigrations, MigrationLock.Catalog);
  }

  async select(sql: string, bind: unknown[] = [], transaction?: Transaction): Promise<Row[]> {
    try {
      return await this.#sequelize.query<Row>(sql, { type: QueryTypes.SELECT, bind, transaction: transaction ?? null });
    } catch (err) {
      throw unavailable(err);
    }
  }

  /** Runs a statement; returns its row count. */
  async exec(sql: string, bind: unknown[] = [], transaction?: Transaction): Promise<number> {
    try {
      const [, meta] = await this.#sequelize.query(sql, { bind, transaction: transaction ?? null });
      return (meta as { rowCount?: number } | undefined)?.rowCount ?? 0;
    } catch (err) {
      throw unavailable(err);
    }
  }

  /** Runs `work` in one catalog transaction (committed when it resolves, rolled back when it throws). */
  async transaction<T>(work: (transaction: Transaction) => Promise<T>): Promise<T> {
    try {
      return await this.#sequelize.transaction(work);
    } catch (err) {
      throw unavailable(err);
    }
  }

  /**
   * One data-modifying statement and the version bump as one statement (a data-modifying
   * CTE is atomic with the statement it precedes): one round trip, no transaction.
   * `also`: more data-modifying CTEs (`name AS (…)`, the same binds) that go with the change.
   */
  async execBumpingVersion(change: string, bind: unknown[], also: readonly string[] = []): Promise<void> {
    await this.exec(`WITH ${[`change AS (${change})`, ...also].join(', ')} ${BUMP_VERSION}`, bind);
  }

  /**
   * A statement after which some API key no longer works, and the keys version bump, as
   * one statement; returns the statement's rows (it must say `RETURNING`). `also`: as in
   * execBumpingVersion.
   */
  async selectBumpingKeysVersion(change: string, bind: unknown[], also: readonly string[] = []): Promise<Row[]> {
    return this.select(`WITH ${[`change AS (${change})`, ...also, `bump AS (${BUMP_KEYS_VERSION})`].join(', ')} SELECT * FROM change`, bind);
  }

  async keysVersion(): Promise<bigint> {
    const rows = await this.select('SELECT keys_version::text AS v FROM catalog_meta');
    return BigInt((rows[0]?.v as string | undefined) ?? '0');
  }

  /** Bumps the version inside the caller's transaction (once for all of its changes). */
  async bumpVersion(transaction: Transaction): Promise<void> {
    await this.exec(BUMP_VERSION, [], transaction);
  }

  async version(): Promise<bigint> {
    const rows = await this.select('SELECT version::text AS version FROM catalog_meta');
    return BigInt((rows[0]?.version as string | undefined) ?? '0');
  }

  async close(): Promise<void> {
    await this.#sequelize.close();
  }
}

/**
 * A driver error as the catalog's callers see it: an unreachable, timed-out or shutting
 * down catalog becomes CatalogUnavailableError; a unique violation and our own errors
 * pass through for the store to translate; anything else is thrown as it is.
 */
function unavailable(err: unknown): Error {
  if (err instanceof GatewayError || err instanceof UniqueConstraintError) return err as Error;
  const name = (err as Error).name ?? '';
  const message = (err as Error).message ?? '';
  if (
    name.startsWith('SequelizeConnection') ||
    name === 'SequelizeHostNotFoundError' ||
    name === 'SequelizeTimeoutError' ||
    CONNECTION_FAILURE.test(message) ||
    tlsFailureReason(err) !== undefined ||
    /57P0[123]/.test(message)
  ) {
    return new CatalogUnavailableError({ cause: err });
  }
  return err as Error;
}
