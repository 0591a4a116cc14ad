import { Sequelize, type Transaction } from 'sequelize';
import type { Migration, MigrationDb } from '../../shards/migrations/migration.js';
import type { PgTls } from '../transport/pg-tls.js';
import { MigrationLock } from './run-migrations.js';

export interface ShardMigrationRunnerOptions {
  readonly tls: PgTls;
  readonly connectTimeoutMs: number;
  /** `lock_timeout` of each migration's transaction: behind a long transaction it gives way and retries */
  readonly lockTimeoutMs: number;
  readonly firstBackoffMs: number;
  readonly maxBackoffMs: number;
}

/** What a run reports while a migration waits for its locks, and how it learns it was cancelled. */
export interface MigrationRunReport {
  waiting(attempt: number, reason: string): Promise<void>;
  cancelled(): Promise<boolean>;
}

export class MigrationCancelled extends Error {
  constructor() {
    super('cancelled while waiting for a lock');
  }
}

const LOCK_NOT_AVAILABLE = '55P03';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Applies the project's shard migrations to one primary as the privileged role, each in a
 * transaction of its own that also records it (`schema_migrations`, the table umzug kept),
 * under a transaction-level advisory lock so two runners never apply one twice. The
 * transaction runs with a short `lock_timeout`: an `ALTER TABLE` queued behind a long
 * transaction would otherwise queue every query on the table behind itself; here it rolls
 * back whole, waits, and tries again, and a migration is never left half applied.
 */
export class ShardMigrationRunner {
  constructor(
    /** in order: the composition root passes `shardMigrations` (src/ does not import shards/) */
    readonly migrations: readonly Migration[],
    private readonly options: ShardMigrationRunnerOptions,
  ) {}

  /** The code's migrations the shard has not applied, in order. */
  async pending(url: string): Promise<string[]> {
    return this.#with(url, 'migrate-read', async (sequelize) => {
      const applied = await this.#applied(sequelize);
      return this.migrations.filter((m) => !applied.has(m.name)).map((m) => m.name);
    });
  }

  /** Applies what is pending, in order, through `upTo` when given; returns the names applied. */
  async apply(url: string, options: { upTo?: string; report?: MigrationRunReport } = {}): Promise<string[]> {
    const last = options.upTo === undefined ? this.migrations.length - 1 : this.migrations.findIndex((m) => m.name === options.upTo);
    if (last < 0) throw new Error(`migration ${options.upTo} is not in this gateway's code (an older image than the one that planned the change?)`);
    return this.#with(url, 'migrate', async (sequelize) => {
      const done: string[] = [];
      for (const migration of this.migrations.slice(0, last + 1)) {
        if (await this.#applyOne(sequelize, migration, options.report)) done.push(migration.name);
      }
      return done;
    });
  }

  async #applyOne(sequelize: Sequelize, migration: Migration, report: MigrationRunReport | undefined): Promise<boolean> {
    let backoff = this.options.firstBackoffMs;
    for (let attempt = 1; ; attempt++) {
      const t = await sequelize.transaction();
      try {
        await sequelize.query(`SELECT pg_advisory_xact_lock(${MigrationLock.Shard})`, { transaction: t });
        await sequelize.query(`SET LOCAL lock_timeout = ${Math.round(this.options.lockTimeoutMs)}`, { transaction: t });
        const [seen] = await sequelize.query('SELECT 1 FROM schema_migrations WHERE name = $1', { bind: [migration.name], transaction: t });
        if (seen.length > 0) {
          await t.commit();
          return false;
        }
        await migration.up(bound(sequelize, t));
        await sequelize.query('INSERT INTO schema_migrations (name) VALUES ($1)', { bind: [migration.name], transaction: t });
        await t.commit();
        return true;
      } catch (err) {
        await t.rollback().catch(() => undefined);
        const code = (err as { original?: { code?: string }; parent?: { code?: string } }).original?.code;
        if (code !== LOCK_NOT_AVAILABLE) throw err;
        await report?.waiting(attempt, `migration ${migration.name}: a lock not granted within ${this.options.lockTimeoutMs} ms`);
        if (await report?.cancelled()) throw new MigrationCancelled();
        await sleep(backoff);
        backoff = Math.min(backoff * 2, this.options.maxBackoffMs);
      }
    }
  }

  async #applied(sequelize: Sequelize): Promise<Set<string>> {
    const [rows] = await sequelize.query('SELECT name FROM schema_migrations');
    return new Set((rows as Array<{ name: string }>).map((r) => r.name));
  }

  async #with<T>(url: string, purpose: string, run: (sequelize: Sequelize) => Promise<T>): Promise<T> {
    const connection = this.options.tls.sequelize(url);
    const sequelize = new Sequelize(connection.url, {
      dialect: 'postgres',
      hooks: connection.hooks,
      logging: false,
      pool: { max: 1, min: 0, idle: 10_000 },
      dialectOptions: { application_name: `shardgate:${purpose}`, connectionTimeoutMillis: this.options.connectTimeoutMs },
      retry: { max: 0 },
    });
    try {
      // the table umzug created on shards migrated before this runner: same name, same column
      await sequelize.query('CREATE TABLE IF NOT EXISTS schema_migrations (name varchar(255) NOT NULL PRIMARY KEY)');
      return await run(sequelize);
    } finally {
      await sequelize.close();
    }
  }
}

/** The migration's statements, every one in its transaction. */
function bound(sequelize: Sequelize, transaction: Transaction): MigrationDb {
  return { query: (sql, options) => sequelize.query(sql, { ...(options?.bind ? { bind: options.bind } : {}), transaction }) };
}
