import pg from 'pg';
import type { StoredStatement } from '../../catalog/schema-change-store.js';
import type { PgTls } from '../../transport/pg-tls.js';
import { partitionIndexName, partitionIndexSql, type PlannedStatement } from '../ddl/plan-ddl.js';
import { MigrationCancelled, type ShardMigrationRunner } from '../shard-migration-runner.js';

/** What one shard's run reports as it goes: statements done, and what it waits on. */
export interface ShardDdlReport {
  /** `done` statements are done; `summary`: what the last one leaves in the progress (a backfill's counts) */
  step(done: number, summary?: Record<string, unknown>): Promise<void>;
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
  /** heap blocks one backfill batch updates */
  readonly backfillBatchBlocks: number;
  /** a backfill's rows a second on one shard; 0: unlimited */
  readonly backfillRowsPerSecond: number;
  /** the project's shard migrations, for a change of kind migrations */
  readonly migrations: ShardMigrationRunner;
}

/** Where a shard's run stopped inside a statement: a backfill's next heap block (`step`: the plan statement it belongs to). */
export interface ShardDdlResume {
  readonly backfill?: { readonly step?: number; readonly block?: number; readonly rows?: number } | undefined;
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

  async apply(
    url: string,
    change: { id: string; seq: number; ddl: string; plan: readonly StoredStatement[] },
    from: number,
    report: ShardDdlReport,
    resume: ShardDdlResume = {},
  ): Promise<'done' | 'cancelled'> {
    const client = await this.#connect(url, 'ddl');
    try {
      for (let i = from; i < change.plan.length; i++) {
        if (await report.cancelled()) return 'cancelled';
        let summary: Record<string, unknown> | undefined;
        try {
          summary = await this.#statement(client, url, change.plan[i]!, i, report, i === from ? resume : {});
        } catch (err) {
          if (err instanceof Cancelled) return 'cancelled';
          throw err;
        }
        await report.step(i + 1, summary);
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

  /** Runs plan statement `index`; returns what it leaves in the shard's progress, if anything. */
  async #statement(client: pg.Client, url: string, st: StoredStatement, index: number, report: ShardDdlReport, resume: ShardDdlResume): Promise<Record<string, unknown> | undefined> {
    if (st.kind === 'migration' && st.migration !== undefined) {
      await this.options.migrations.apply(url, { upTo: st.migration, report }).catch((err: unknown) => {
        throw err instanceof MigrationCancelled ? new Cancelled() : err;
      });
      return undefined;
    }
    if (st.kind === 'backfill') return this.#backfill(client, st, index, report, resume.backfill?.step === index ? resume : {});
    if (st.kind === 'partitioned-index') return this.#partitionedIndex(client, url, st, index, report);
    if (st.kind === 'index' && st.concurrent && st.index !== undefined && /^\s*CREATE/i.test(st.sql)) {
      const existing = await this.#indexValid(client, st.index);
      if (existing === true) return undefined;
      if (existing === false) await client.query(`DROP INDEX CONCURRENTLY IF EXISTS public.${pg.escapeIdentifier(st.index)}`);
      await this.#withProgress(url, report, () => client.query(st.sql));
      // IF NOT EXISTS would skip an INVALID index silently: only a valid one counts as built
      if ((await this.#indexValid(client, st.index)) !== true) throw new Error(`index ${st.index} is not valid after its build`);
      return undefined;
    }
    if (!st.lockTimeout) {
      await client.query(st.sql).catch((err: unknown) => {
        if (!ALREADY.has((err as { code?: string }).code ?? '')) throw err;
      });
      return undefined;
    }
    await this.#locked(client, st.sql, [], st.table, report);
    return undefined;
  }

  /**
   * One statement under a short `lock_timeout`, retried with backoff while a long
   * transaction holds a conflicting lock: it gives way to the traffic instead of queueing
   * every query on the table behind its own lock request. Returns the rows it changed
   * (0 when it had already happened on an earlier run).
   */
  async #locked(client: pg.Client, sql: string, params: unknown[], table: string, report: ShardDdlReport): Promise<number> {
    let backoff = this.options.firstBackoffMs;
    for (let attempt = 1; ; attempt++) {
      try {
        await client.query(`SET lock_timeout = ${Math.round(this.options.lockTimeoutMs)}`);
        return (await client.query(sql, params)).rowCount ?? 0;
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code !== undefined && ALREADY.has(code)) return 0;
        if (code !== LOCK_NOT_AVAILABLE) throw err;
        await report.waiting(attempt, `lock on ${table} not granted within ${this.options.lockTimeoutMs} ms`);
        if (await report.cancelled()) throw new Cancelled();
        await sleep(backoff);
        backoff = Math.min(backoff * 2, this.options.maxBackoffMs);
      } finally {
        await client.query('RESET lock_timeout').catch(() => undefined);
      }
    }
  }

  /**
   * A backfill in batches of heap blocks (`ctid` ranges: a TID range scan reads just those
   * blocks), each batch its own short transaction under the lock timeout, paced to
   * backfillRowsPerSecond, the next block kept in the progress so a resumed run starts
   * there. The end is the table's size when the backfill started: a row an update moves
   * past it was done already, and rows written since come from code that writes the new
   * column (the expand step of expand/contract).
   */
  async #backfill(client: pg.Client, st: StoredStatement, step: number, report: ShardDdlReport, resume: ShardDdlResume): Promise<Record<string, unknown>> {
    const relation = `public.${pg.escapeIdentifier(st.table)}`;
    const { rows } = await client.query<{ blocks: string }>(`SELECT (pg_relation_size($1::regclass) / current_setting('block_size')::bigint)::text AS blocks`, [relation]);
    const blocks = Number(rows[0]!.blocks);
    const batch = this.options.backfillBatchBlocks;
    let block = resume.backfill?.block ?? 0;
    let done = resume.backfill?.rows ?? 0;
    const started = performance.now();
    const doneAtStart = done;
    while (block < blocks) {
      if (await report.cancelled()) throw new Cancelled();
      const next = Math.min(block + batch, blocks);
      done += await this.#locked(client, st.sql, [`(${block},0)`, `(${next},0)`], st.table, report);
      block = next;
      await report.progress({ waiting: null, attempt: null, backfill: { step, block, blocks, rows: done } });
      const rate = this.options.backfillRowsPerSecond;
      if (rate > 0) {
        const due = ((done - doneAtStart) / rate) * 1000 - (performance.now() - started);
        if (due > 0) await sleep(due);
      }
    }
    return { backfill: { step, block, blocks, rows: done } };
  }

  /**
   * An index on a partitioned table, which PostgreSQL cannot build CONCURRENTLY in one
   * statement: the parent's index ON ONLY the parent (a catalog entry, invalid, taken under
   * the lock timeout), then each partition's built CONCURRENTLY and attached; the parent's
   * turns valid with the last one attached, and partitions created later get theirs with
   * them. A partition's leftover INVALID index is dropped and built again, an attached one
   * skipped, so a resumed run picks up where it stopped.
   */
  async #partitionedIndex(client: pg.Client, url: string, st: StoredStatement, step: number, report: ShardDdlReport): Promise<Record<string, unknown> | undefined> {
    const parent = st.index!;
    if ((await this.#indexValid(client, parent)) === true) return undefined;
    if ((await this.#indexValid(client, parent)) === undefined) await this.#locked(client, st.sql, [], st.table, report);
    const partitions = await client.query<{ partition: string; attached: boolean }>(
      `SELECT c.relname::text AS partition,
              EXISTS (SELECT 1 FROM pg_inherits ii JOIN pg_index x ON x.indexrelid = ii.inhrelid
                       WHERE ii.inhparent = to_regclass($2) AND x.indrelid = c.oid) AS attached
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = to_regclass($1) ORDER BY c.relname`,
      [`public.${pg.escapeIdentifier(st.table)}`, `public.${pg.escapeIdentifier(parent)}`],
    );
    for (const [i, { partition, attached }] of partitions.rows.entries()) {
      if (attached) continue;
      if (await report.cancelled()) throw new Cancelled();
      const child = partitionIndexName(parent, partition);
      const childStatement = { ...(st as PlannedStatement), sql: await partitionIndexSql(st as PlannedStatement, partition, child), kind: 'index' as const, index: child, table: partition };
      await this.#statement(client, url, childStatement, step, report, {});
      await this.#locked(client, `ALTER INDEX public.${pg.escapeIdentifier(parent)} ATTACH PARTITION public.${pg.escapeIdentifier(child)}`, [], st.table, report);
      await report.progress({ partitions: { done: i + 1, total: partitions.rows.length } });
    }
    if ((await this.#indexValid(client, parent)) !== true) throw new Error(`index ${parent} is not valid after every partition's index was attached`);
    return { partitions: { done: partitions.rows.length, total: partitions.rows.length } };
  }

  /** true/false: the index exists and is (not) valid; undefined: no such index. */
  async #indexValid(client: pg.Client, index: string): Promise<boolean | undefined> {
    const { rows } = await client.query<{ valid: boolean }>(
      `SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relname = $1`,
      [index],
    );
    return rows[0]?.valid;
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
