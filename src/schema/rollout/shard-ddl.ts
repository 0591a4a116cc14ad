import pg from 'pg';
import type { StoredStatement } from '../../catalog/schema-change-store.js';
import type { PgTls } from '../../transport/pg-tls.js';

/** What one shard's run reports as it goes: statements done, and what it waits on. */
export interface ShardDdlReport {
  step(done: number): Promise<void>;
  waiting(attempt: number, reason: string): Promise<void>;
  progress(detail: Record<string, unknown>): Promise<void>;
  /** true once the change was cancelled: the run stops before its next statement */
  cancelled(): Promise<boolean>;
}

export interface ShardDdlOptions {
  readonly tls: PgTls;
  readonly connectTimeoutMs: number;
  /** `lock_timeout` of every statement that takes a table lock (2 s) */
  readonly lockTimeoutMs: number;
  /** first wait after a lock timeout; doubled up to maxBackoffMs */
  readonly firstBackoffMs: number;
  readonly maxBackoffMs: number;
  /** how often an index build's progress is read (pg_stat_progress_create_index) */
  readonly progressIntervalMs: number;
}

/** SQLSTATEs that mean "this statement already happened" on a resumed run. */
const ALREADY = new Set([
  '42701', // duplicate_column: ADD COLUMN ran before the crash
  '42710', // duplicate_object: the constraint exists
  '42P07', // duplicate_table: an index of that name exists
]);
const LOCK_NOT_AVAILABLE = '55P03';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The change was cancelled while a statement waited for its lock. */
class Cancelled extends Error {}

/**
 * Applies one change's plan to one shard's primary as the privileged role, from the
 * statement it stopped at. A statement that takes a table lock runs under a short
 * `lock_timeout` and is retried with backoff: behind a long transaction it waits its turn
 * without queueing every query on the table behind its lock request (the lock-queue trap).
 * An index is built CONCURRENTLY, outside any transaction; an INVALID index a failed build
 * left under the same name is dropped first, a valid one means the build already happened.
 * The shard records the change as applied last, with its place in the fleet's order.
 */
export class ShardDdl {
  constructor(private readonly options: ShardDdlOptions) {}

  async apply(url: string, change: { id: string; seq: number; ddl: string; plan: readonly StoredStatement[] }, from: number, report: ShardDdlReport): Promise<'done' | 'cancelled'> {
    const client = await this.#connect(url, 'ddl');
    try {
      for (let i = from; i < change.plan.length; i++) {
        if (await report.cancelled()) return 'cancelled';
        try {
          await this.#statement(client, url, change.plan[i]!, report);
        } catch (err) {
          if (err instanceof Cancelled) return 'cancelled';
          throw err;
        }
        await report.step(i + 1);
      }
      await client.query('INSERT INTO shardgate_schema_changes (id, seq, ddl) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING', [change.id, change.seq, change.ddl]);
      return 'done';
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** The changes this shard has applied, in order. */
  async applied(url: string): Promise<string[]> {
    const client = await this.#connect(url, 'ddl-read');
    try {
      return (await client.query<{ id: string }>('SELECT id::text FROM shardgate_schema_changes ORDER BY seq')).rows.map((r) => r.id);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async #statement(client: pg.Client, url: string, st: StoredStatement, report: ShardDdlReport): Promise<void> {
    if (st.kind === 'index' && st.concurrent && st.index !== undefined && /^\s*CREATE/i.test(st.sql)) {
      const existing = await client.query<{ valid: boolean }>(
        `SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relname = $1`,
        [st.index],
      );
      if (existing.rows[0]?.valid === true) return;
      if (existing.rows[0]?.valid === false) await client.query(`DROP INDEX CONCURRENTLY IF EXISTS public.${pg.escapeIdentifier(st.index)}`);
      await this.#withProgress(url, report, () => client.query(st.sql));
      // IF NOT EXISTS would skip an INVALID index silently: only a valid one counts as built
      const built = await client.query<{ valid: boolean }>(
        `SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relname = $1`,
        [st.index],
      );
      if (built.rows[0]?.valid !== true) throw new Error(`index ${st.index} is not valid after its build`);
      return;
    }
    let backoff = this.options.firstBackoffMs;
    for (let attempt = 1; ; attempt++) {
      try {
        if (st.lockTimeout) await client.query(`SET lock_timeout = ${Math.round(this.options.lockTimeoutMs)}`);
        await client.query(st.sql);
        return;
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code !== undefined && ALREADY.has(code)) return;
        if (code !== LOCK_NOT_AVAILABLE || !st.lockTimeout) throw err;
        // a long transaction holds a conflicting lock: give way to the traffic, then try again
        await report.waiting(attempt, `lock on ${st.table} not granted within ${this.options.lockTimeoutMs} ms`);
        if (await report.cancelled()) throw new Cancelled();
        await sleep(backoff);
        backoff = Math.min(backoff * 2, this.options.maxBackoffMs);
      } finally {
        if (st.lockTimeout) await client.query('RESET lock_timeout').catch(() => undefined);
      }
    }
  }

  /** Runs an index build while a second connection reads its progress into the report. */
  async #withProgress<T>(url: string, report: ShardDdlReport, build: () => Promise<T>): Promise<T> {
    const watcher = await this.#connect(url, 'ddl-progress').catch(() => undefined);
    let done = false;
    const watch = (async () => {
      while (!done && watcher) {
        await sleep(this.options.progressIntervalMs);
        const row = (
          await watcher
            .query<Record<string, unknown>>(
              `SELECT phase, blocks_total::int, blocks_done::int, tuples_total::int, tuples_done::int FROM pg_stat_progress_create_index
                WHERE datname = current_database() LIMIT 1`,
            )
            .catch(() => ({ rows: [] as Record<string, unknown>[] }))
        ).rows[0];
        if (row && !done) await report.progress(row).catch(() => undefined);
      }
    })();
    try {
      return await build();
    } finally {
      done = true;
      await watch;
      await watcher?.end().catch(() => undefined);
    }
  }

  async #connect(url: string, purpose: string): Promise<pg.Client> {
    const client = new pg.Client({
      ...(await this.options.tls.clientOptions(url)),
      application_name: `shardgate:${purpose}`,
      connectionTimeoutMillis: this.options.connectTimeoutMs,
    });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  }
}
