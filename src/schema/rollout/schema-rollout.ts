import type { Logger } from 'pino';
import type { ShardRow } from '../../catalog/catalog-rows.js';
import type { SchemaChange, SchemaChangeStore, StoredStatement } from '../../catalog/schema-change-store.js';
import { adminPrimaryUrl } from '../../cluster/shard-registry.js';
import { ConflictError, NotFoundError, ShardUnavailableError, ValidationError } from '../../errors/errors.js';
import { uuidv7 } from '../../models/index.js';
import { LeaseLost, type HeldLease } from '../../leases/held-lease.js';
import { LeasedRuns } from '../../leases/leased-runs.js';
import type { PgTls } from '../../transport/pg-tls.js';
import { readShardSchema, type ReadShardSchema } from './read-shard-schema.js';
import { ShardDdl, type ShardDdlReport } from './shard-ddl.js';
import type { ShardMigrationRunner } from '../shard-migration-runner.js';

export interface SchemaRolloutDeps {
  readonly store: SchemaChangeStore;
  /** the shards a change goes to: every one not retired */
  readonly shards: () => Promise<readonly ShardRow[]>;
  readonly ddl: ShardDdl;
  /** the safety check: the plan for a statement, or a 400 saying why not and what to do instead */
  readonly plan: (ddl: string, schema: ReadShardSchema) => Promise<StoredStatement[]>;
  readonly tls: PgTls;
  readonly logger: Logger;
  /** what a change of kind migrations applies, and how a shard's pending ones are read */
  readonly migrations: ShardMigrationRunner;
}

export interface SchemaRolloutOptions {
  readonly owner: string;
  /** how long a claim on a change holds without renewal; another gateway resumes it after */
  readonly leaseMs: number;
  readonly connectTimeoutMs: number;
}

/**
 * Online schema changes across the fleet: a statement the safety check accepted is logged in
 * the catalog with its plan and applied to one shard at a time, each shard's progress kept
 * (statements done, what it waits on, an index build's phase), so a change survives its
 * gateway: another claims it when the lease lapses and resumes each shard at the statement it
 * stopped at. A shard that fails stops the change there (the others keep what they applied:
 * every plan is additive); a cancelled change stops before its next statement. A shard added
 * later replays every change that succeeded, in order, before it takes tenants (`catchUp`).
 */
export class SchemaRollout {
  readonly #runs: LeasedRuns;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: SchemaRolloutDeps,
    private readonly options: SchemaRolloutOptions,
  ) {
    const { store, logger } = deps;
    this.#runs = new LeasedRuns({ what: 'schema change', logKey: 'change', owner: options.owner, leaseMs: options.leaseMs, claim: (id, o, ms) => store.claim(id, o, ms), logger });
  }

  /** the log, for listing */
  get store(): Pick<SchemaChangeStore, 'list'> {
    return this.deps.store;
  }

  start(): void {
    this.#timer = setInterval(() => void this.scan(), this.options.leaseMs);
    this.#timer.unref();
    void this.scan();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#runs.settled();
  }

  /** Checks and plans the statement against the fleet's schema, logs it, starts it; 400 when unsafe, 409 when a change is open. */
  async submit(ddl: string): Promise<SchemaChange> {
    const shards = await this.#fleetFree('ddl');
    const schema = await readShardSchema(adminPrimaryUrl(shards[0]!), this.deps.tls, this.options.connectTimeoutMs).catch((err: unknown) => {
      throw new ShardUnavailableError(shards[0]!.id, { cause: err, retryAfterSeconds: 1 });
    });
    const plan = await this.deps.plan(ddl, schema);
    if (plan.length === 0) throw new ValidationError('ddl', 'ddl: the statement changes nothing');
    return this.#start('ddl', ddl, plan, shards);
  }

  /**
   * Rolls out the project's shard migrations that some shard has not applied, in order, one
   * shard at a time like any change (each migration one transaction under the lock timeout,
   * retried). With none pending the change is logged all the same and succeeds at once, so
   * a deploy pipeline always gets a change to wait on.
   */
  async submitMigrations(): Promise<SchemaChange> {
    const shards = await this.#fleetFree('migrations');
    const pending = new Set<string>();
    for (const shard of shards) {
      const names = await this.deps.migrations.pending(adminPrimaryUrl(shard)).catch((err: unknown) => {
        throw new ShardUnavailableError(shard.id, { cause: err, retryAfterSeconds: 1 });
      });
      for (const name of names) pending.add(name);
    }
    const names = this.deps.migrations.migrations.map((m) => m.name).filter((n) => pending.has(n));
    const plan: StoredStatement[] = names.map((migration) => ({ sql: '', kind: 'migration', concurrent: false, lockTimeout: true, table: '', migration }));
    const what = names.length === 0 ? 'shard migrations: none pending' : `shard migrations ${names.join(', ')}`;
    return this.#start('migrations', what, plan, shards);
  }

  /** Resolves once the change has ended (whoever runs it); its final record. */
  async settled(id: string, pollMs = 500): Promise<SchemaChange> {
    for (;;) {
      await this.#runs.running(id);
      const change = await this.get(id);
      if (change.state !== 'pending' && change.state !== 'running') return change;
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  /** The fleet's shards, when no change is rolling out: one at a time keeps them at most one version apart. */
  async #fleetFree(field: string): Promise<readonly ShardRow[]> {
    const shards = await this.deps.shards();
    if (shards.length === 0) throw new ConflictError('there is no shard to change', field);
    const [open] = await this.deps.store.open();
    if (open) throw new ConflictError(`schema change ${open} is still rolling out: wait for it, or cancel it`, field);
    return shards;
  }

  async #start(kind: SchemaChange['kind'], ddl: string, plan: StoredStatement[], shards: readonly ShardRow[]): Promise<SchemaChange> {
    const id = uuidv7();
    await this.deps.store.create(id, kind, ddl, plan, shards.map((s) => s.id));
    void this.#claimAndRun(id);
    return (await this.deps.store.get(id))!;
  }

  async get(id: string): Promise<SchemaChange> {
    const change = await this.deps.store.get(id);
    if (!change) throw new NotFoundError('schema change', id);
    return change;
  }

  async cancel(id: string): Promise<SchemaChange> {
    await this.get(id);
    if (!(await this.deps.store.cancel(id))) throw new ConflictError(`schema change ${id} has already ended`, 'id');
    return this.get(id);
  }

  /** Resumes open changes nobody holds (their gateway died). */
  async scan(): Promise<void> {
    try {
      for (const id of await this.deps.store.claimable(this.options.owner)) await this.#claimAndRun(id);
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message }, 'schema change scan failed');
    }
  }

  /** Applies every change that succeeded and this shard lacks, in order (a shard added later, before it takes tenants). */
  async catchUp(shard: Pick<ShardRow, 'id' | 'primary' | 'admin'>): Promise<number> {
    const url = adminPrimaryUrl(shard);
    const applied = new Set(await this.deps.ddl.applied(url));
    let n = 0;
    for (const change of await this.deps.store.succeeded()) {
      if (applied.has(change.id)) continue;
      await this.deps.ddl.apply(url, change, 0, QUIET);
      n += 1;
    }
    if (n > 0) this.deps.logger.info({ shard: shard.id, changes: n }, 'shard caught up with the fleet’s schema changes');
    return n;
  }

  #claimAndRun(id: string): Promise<void> {
    return this.#runs.run(id, (lease) => this.#run(id, lease));
  }

  async #run(id: string, lease: HeldLease): Promise<void> {
    const { store, logger } = this.deps;
    // a shard that joined the fleet after the change was logged (its catch-up ran before the
    // change succeeded, so it would never replay it) gets it too, before the change ends
    for (let round = 0; ; round++) {
      const change = (await store.get(id))!;
      const rows = new Map((await this.deps.shards()).map((s) => [s.id, s]));
      const joined = [...rows.keys()].filter((shard) => !change.shards.some((s) => s.shard === shard));
      if (round > 0 && joined.length === 0) break;
      for (const shard of joined) await store.addShard(id, shard);
      if (!(await this.#runShards(id, joined.length > 0 ? (await store.get(id))! : change, rows, lease))) return;
    }
    lease.check();
    await store.finish(id, 'succeeded', null, this.options.owner);
    logger.info({ change: id }, 'schema change applied to every shard');
  }

  /** One pass over the change's shards; false when the change stopped (failed, cancelled, taken over). */
  async #runShards(id: string, change: SchemaChange, rows: ReadonlyMap<string, ShardRow>, lease: HeldLease): Promise<boolean> {
    const { store, logger } = this.deps;
    const { owner } = this.options;
    for (const shard of change.shards) {
      if (shard.state === 'done') continue;
      lease.check();
      const row = rows.get(shard.shard);
      if (!row) {
        await store.updateShard(id, shard.shard, { state: 'failed', error: 'the shard is no longer in the catalog' });
        await store.finish(id, 'failed', `shard ${shard.shard} is gone`, owner);
        return false;
      }
      await store.updateShard(id, shard.shard, { state: 'running', error: null });
      const report: ShardDdlReport = {
        step: async (done, summary) => {
          lease.check();
          await store.updateShard(id, shard.shard, { step: done, progress: null, error: null });
          if (summary) await store.updateShard(id, shard.shard, { progress: summary });
        },
        waiting: async (attempt, reason) => {
          lease.check();
          await store.updateShard(id, shard.shard, { attemptsDelta: 1, progress: { waiting: reason, attempt } });
        },
        progress: async (detail) => {
          lease.check();
          await store.updateShard(id, shard.shard, { progress: detail });
        },
        cancelled: async () => (await store.state(id)) === 'cancelled',
      };
      try {
        const outcome = await this.deps.ddl.apply(adminPrimaryUrl(row), change, shard.step, report, shard.progress ?? {});
        if (outcome === 'cancelled') return false;
        lease.check();
        // what the last statement left (a backfill's counts) stays; what it waited on goes
        await store.updateShard(id, shard.shard, { state: 'done', progress: { waiting: null, attempt: null } });
      } catch (err) {
        if (err instanceof LeaseLost || lease.lost) throw err;
        const message = (err as Error).message;
        await store.updateShard(id, shard.shard, { state: 'failed', error: message });
        await store.finish(id, 'failed', `${shard.shard}: ${message}`, owner);
        logger.error({ change: id, shard: shard.shard, err: message }, 'schema change failed on a shard');
        return false;
      }
    }
    return true;
  }
}

/** A catch-up runs before the shard takes tenants: nothing to report to, nothing to cancel. */
const QUIET: ShardDdlReport = {
  step: async () => undefined,
  waiting: async () => undefined,
  progress: async () => undefined,
  cancelled: async () => false,
};

/** The fleet's rollout as the composition root wires it: the catalog's log, every shard not retired, PostgreSQL's own parser. */
export function fleetSchemaRollout(
  deps: Omit<SchemaRolloutDeps, 'ddl'>,
  options: SchemaRolloutOptions & { readonly lockTimeoutMs: number; readonly backfillBatchBlocks: number; readonly backfillRowsPerSecond: number },
): SchemaRollout {
  const ddl = new ShardDdl({
    tls: deps.tls,
    connectTimeoutMs: options.connectTimeoutMs,
    lockTimeoutMs: options.lockTimeoutMs,
    firstBackoffMs: 200,
    maxBackoffMs: 5000,
    progressIntervalMs: 500,
    backfillBatchBlocks: options.backfillBatchBlocks,
    backfillRowsPerSecond: options.backfillRowsPerSecond,
    migrations: deps.migrations,
  });
  return new SchemaRollout({ ...deps, ddl }, options);
}
