import type { ShardNode } from '../cluster/shard-node.js';

export type QueryStatsSort = 'totalTime' | 'meanTime' | 'calls';

/** One statement's cost on one shard. */
export interface ShardStatementCost {
  readonly id: string;
  readonly calls: number;
  readonly totalMs: number;
}

/** One statement, merged across the shards that ran it. */
export interface StatementCost {
  readonly query: string;
  readonly calls: number;
  readonly totalMs: number;
  readonly meanMs: number;
  readonly rows: number;
  readonly shards: readonly ShardStatementCost[];
}

export interface QueryStatsReport {
  readonly statements: readonly StatementCost[];
  /** shards that could not answer (no pg_stat_statements there, or unreachable), with why */
  readonly unavailable: ReadonlyArray<{ readonly id: string; readonly reason: string }>;
}

/** The shards this gateway is connected to (the ShardRegistry). */
export interface ConnectedShards {
  all(): ReadonlyArray<{ readonly id: string; readonly primary: ShardNode }>;
  has(shardId: string): boolean;
}

/** Statements each shard contributes at most, its costliest by total time. */
const PER_SHARD = 1000;

const WHERE_EXTENSION = `SELECT n.nspname AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_stat_statements'`;

/** The statement texts this role may read; `query` is normalised by the server (constants are `$n`). */
const statementsIn = (schema: string) => `
  SELECT s.query, s.calls::float8 AS calls, s.total_exec_time AS total_ms, s.rows::float8 AS rows
    FROM "${schema.replaceAll('"', '""')}".pg_stat_statements s
   WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
     AND s.query <> '<insufficient privilege>'
   ORDER BY s.total_exec_time DESC
   LIMIT ${PER_SHARD}`;

interface Row {
  readonly query: string;
  readonly calls: number;
  readonly total_ms: number;
  readonly rows: number;
}

/**
 * What the fleet's statements cost, from each shard primary's pg_stat_statements, merged by
 * statement. Merged by the normalised text, not the query id: the id hashes the tables'
 * OIDs, which differ from one shard to the next for the same table. Constants are `$n` in
 * the server's text, so no bound value and no tenant id reaches the answer; utility
 * statements (which keep their literals) are not tracked (`pg_stat_statements.track_utility
 * = off`, set by cluster:up and the manifests).
 */
export class QueryStats {
  constructor(private readonly fleet: ConnectedShards) {}

  /** Whether `shardId` names a shard this gateway is connected to. */
  knows(shardId: string): boolean {
    return this.fleet.has(shardId);
  }

  async report(options: { readonly sort: QueryStatsSort; readonly top: number; readonly shard?: string | undefined }): Promise<QueryStatsReport> {
    const shards = this.fleet.all().filter((s) => options.shard === undefined || s.id === options.shard);
    const answers = await Promise.all(shards.map(async (s) => ({ id: s.id, ...(await this.#read(s.primary)) })));
    // sums unrounded; rounded once, on the way out
    const merged = new Map<string, { calls: number; totalMs: number; rows: number; shards: Array<{ id: string; calls: number; totalMs: number }> }>();
    for (const answer of answers) {
      for (const row of answer.rows ?? []) {
        const entry = merged.get(row.query) ?? { calls: 0, totalMs: 0, rows: 0, shards: [] };
        entry.calls += row.calls;
        entry.totalMs += row.total_ms;
        entry.rows += row.rows;
        // one text may be several entries of one shard: another role ran it, or its table was made anew (another OID)
        const same = entry.shards.find((x) => x.id === answer.id);
        if (same === undefined) entry.shards.push({ id: answer.id, calls: row.calls, totalMs: row.total_ms });
        else {
          same.calls += row.calls;
          same.totalMs += row.total_ms;
        }
        merged.set(row.query, entry);
      }
    }
    const statements = [...merged].map(([query, e]) => ({ query, calls: e.calls, totalMs: round(e.totalMs), meanMs: round(e.calls === 0 ? 0 : e.totalMs / e.calls), rows: e.rows, shards: e.shards.map((x): ShardStatementCost => ({ id: x.id, calls: x.calls, totalMs: round(x.totalMs) })) }));
    const key: Record<QueryStatsSort, (s: StatementCost) => number> = { totalTime: (s) => s.totalMs, meanTime: (s) => s.meanMs, calls: (s) => s.calls };
    statements.sort((a, b) => key[options.sort](b) - key[options.sort](a) || a.query.localeCompare(b.query));
    const unavailable = answers.filter((a) => a.reason !== undefined).map((a) => ({ id: a.id, reason: a.reason! }));
    return { statements: statements.slice(0, options.top), unavailable };
  }

  async #read(primary: ShardNode): Promise<{ rows?: Row[]; reason?: string }> {
    try {
      const schema = (await primary.query<{ schema: string }>(WHERE_EXTENSION, []))[0]?.schema;
      if (schema === undefined) return { reason: 'pg_stat_statements is not installed on this shard' };
      return { rows: await primary.query<Row>(statementsIn(schema), []) };
    } catch (err) {
      const message = (err as Error).message;
      // created but not preloaded: the server refuses to read it
      if (/must be loaded via shared_preload_libraries/.test(message)) return { reason: 'pg_stat_statements is not preloaded on this shard (shared_preload_libraries)' };
      return { reason: `the shard did not answer: ${message}` };
    }
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
