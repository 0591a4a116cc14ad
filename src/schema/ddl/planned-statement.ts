/**
 * What a planned statement does, so the rollout engine runs, reports and retries it by kind:
 * a `backfill` runs once per batch of heap blocks, a `partitioned-index` once on the parent
 * and then once per partition, a `migration` is the engine's own (a shard migration by name).
 */
export type PlannedKind = 'index' | 'partitioned-index' | 'constraint' | 'validate' | 'column' | 'backfill' | 'migration' | 'other';

/** One statement the rollout engine runs on every shard, in plan order. */
export interface PlannedStatement {
  /** the statement as PostgreSQL's deparser wrote it: no string was glued */
  readonly sql: string;
  readonly kind: PlannedKind;
  /** CONCURRENTLY: must run outside a transaction block, and a failure can leave an INVALID index behind */
  readonly concurrent: boolean;
  /** takes an ACCESS EXCLUSIVE or SHARE ROW EXCLUSIVE lock: run under `SET lock_timeout = '2s'` and retry with backoff */
  readonly lockTimeout: boolean;
  /** the index built, rebuilt or dropped: a failed build is found and dropped by this name */
  readonly index?: string;
  /** the table the statement changes (unqualified: every shard table lives in public) */
  readonly table: string;
  /** kind 'partitioned-index': the parse tree of the index each partition gets, built CONCURRENTLY (see `partitionIndexSql`) */
  readonly partitionIndex?: { readonly statement: unknown };
}
