import type { Logger } from 'pino';
import type { JobStore } from '../../catalog/job-store.js';
import type { MoveRecord, MoveStage } from '../../catalog/job-rows.js';
import { MoveContext, type MoverTimings } from './move-context.js';
import { cleanup, cutover, liftTombstone, rollback, sweep } from './move-finish.js';
import type { PlacementChanges } from './placement-changes.js';
import type { ShardDirectory } from './shard-directory.js';
import { isPastCutover, nextStage } from './move-stage.js';
import type { ShardMigrator } from '../shard-migrator.js';
import { withSpan } from '../../telemetry/spans.js';
import { Attr } from '../../telemetry/attributes.js';
import { catchUp, copy, fence, verify, type StageFindings } from './move-steps.js';

/** Test seams and telemetry: told before each stage's side effects, and of rows and outcomes. */
export interface MoveHooks {
  beforeStage?(stage: MoveStage, move: MoveRecord, signal: AbortSignal): Promise<void> | void;
  rowsCopied?(rows: number): void;
  finished?(state: 'done' | 'failed', move: MoveRecord): void;
}

export interface TenantMoverDeps {
  readonly store: JobStore;
  readonly shards: ShardDirectory;
  readonly placement: PlacementChanges;
  /** runs the shard migrations on a (possibly just added) target */
  readonly migrator: ShardMigrator;
  /** the online schema changes still rolling out: a move waits while its shards differ by one */
  readonly schemaChanges: { open(): Promise<readonly string[]> };
  readonly timings: MoverTimings;
  readonly logger: Logger;
  readonly hooks?: MoveHooks;
}

/** Why a run stopped without finishing: the runner stops ('stop') or another gateway owns the job now ('abandon'). */
export type StopReason = 'stop' | 'abandon';

/** A move rolled back more often than this (restarts mid-move) fails instead of starting over. */
const MAX_ATTEMPTS = 3;
/** tries of a step after cutover (it can only go forward): ~30 s with the backoff below */
const FORWARD_TRIES = 6;

/**
 * Drives one tenant move through its stages. Before cutover any failure rolls the move
 * back (tenant on the source, writable, nothing left behind); from cutover on the move
 * only goes forward, retrying. A resumed move (a stage persisted by a run that died)
 * is rolled back and started over if it had not reached cutover, else finished.
 */
export class TenantMover {
  constructor(private readonly deps: TenantMoverDeps) {}

  async run(record: MoveRecord, signal: AbortSignal): Promise<MoveStage> {
    const ctx = new MoveContext(record, this.deps.store, this.deps.shards, this.deps.timings, signal, this.deps.logger.child({ move: record.id, tenant: record.tenantId }));
    try {
      let stage: MoveStage | undefined = record.stage;
      if (stage !== 'pending' && !isPastCutover(stage)) {
        ctx.logger.warn({ stage }, 'resuming an interrupted move: rolling it back first');
        const failed = await this.#rollBack(ctx, `interrupted during ${stage}`, record.attempts + 1 >= MAX_ATTEMPTS);
        if (failed) return 'failed';
        stage = 'pending';
      }
      if (stage === 'pending') {
        await ctx.update({ stage: 'copying', attempt: true, error: null });
        stage = 'copying';
      }
      while (stage !== undefined && stage !== 'done') {
        const started = performance.now();
        const current = stage;
        // one span per stage, so a trace shows where a move spent its time (and failed)
        const found = await withSpan(`move.${current}`, { [Attr.TenantId]: ctx.move.tenantId, 'gateway.move.id': ctx.move.id, 'gateway.move.stage': current }, () =>
          this.#step(ctx, current),
        );
        const stageMs = { ...ctx.move.detail.stageMs, [stage]: Math.round(performance.now() - started) };
        stage = nextStage(stage);
        // what the stage learnt rides on the next stage's write: one catalog round trip less while fenced
        if (stage === 'verified') {
          // inside the pause, and nothing to resume from (a move interrupted fenced or verified is
          // rolled back alike): verified is recorded with cutover's write
          ctx.advance({ ...found, stage, detail: { ...found?.detail, stageMs } });
        } else if (stage) await ctx.update({ ...found, stage, detail: { ...found?.detail, stageMs } });
      }
      this.deps.hooks?.finished?.('done', ctx.move);
      ctx.logger.info({ detail: ctx.move.detail, rows: ctx.move.rowsCopied }, 'tenant moved');
      return 'done';
    } catch (err) {
      // rolled back and marked failed: an outcome, not an error of the runner
      if (!ctx.signal.aborted && ctx.move.stage === 'failed') return 'failed';
      throw err;
    } finally {
      await ctx.close();
    }
  }

  /** One stage: its side effects, after the stage was persisted. */
  async #step(ctx: MoveContext, stage: MoveStage): Promise<StageFindings | void> {
    const forward = isPastCutover(stage);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.deps.hooks?.beforeStage?.(stage, ctx.move, ctx.signal);
        ctx.signal.throwIfAborted();
        return await this.#effects(ctx, stage);
      } catch (err) {
        if (ctx.signal.aborted) {
          // a graceful stop rolls back what is not past cutover; an abandoned move is left as it is for its new owner
          if (ctx.signal.reason === 'stop' && !forward) await this.#rollBack(ctx, 'the gateway stopped', false);
          throw err;
        }
        if (!forward) {
          await this.#rollBack(ctx, (err as Error).message, true);
          throw err;
        }
        ctx.logger.warn({ stage, attempt, err: (err as Error).message }, 'move step failed after cutover; retrying');
        if (attempt >= FORWARD_TRIES) {
          await ctx.update({ error: `${stage}: ${(err as Error).message}` });
          throw err;
        }
        await ctx.reset();
        await ctx.pause(500 * 2 ** (attempt - 1));
      }
    }
  }

  async #effects(ctx: MoveContext, stage: MoveStage): Promise<StageFindings | void> {
    switch (stage) {
      case 'copying':
        return copy(ctx, { readyTarget: () => this.#readyTarget(ctx), rollingOut: () => this.deps.schemaChanges.open() }, (n) => this.deps.hooks?.rowsCopied?.(n));
      case 'catching_up':
        return catchUp(ctx);
      case 'fenced':
        return fence(ctx, this.deps.placement);
      case 'verified':
        return verify(ctx);
      case 'cutover':
        return cutover(ctx, this.deps.placement);
      case 'cleanup':
        return cleanup(ctx);
      default:
        throw new Error(`no step for stage ${stage}`);
    }
  }

  async #readyTarget(ctx: MoveContext): Promise<void> {
    await this.deps.migrator.catchUp(await this.deps.shards.shard(ctx.move.target));
  }

  /**
   * A failed move whose rollback left something behind (a server was unreachable): try
   * again. `targetHoldsTenant`: the tenant lives on (or is moving to) the target by now.
   */
  async sweep(record: MoveRecord, targetHoldsTenant: boolean): Promise<readonly string[]> {
    const ctx = new MoveContext(record, this.deps.store, this.deps.shards, this.deps.timings, new AbortController().signal, this.deps.logger.child({ move: record.id }));
    try {
      const leftovers = await sweep(ctx, targetHoldsTenant);
      await ctx.update({ detail: { leftovers } });
      return leftovers;
    } finally {
      await ctx.close();
    }
  }

  /** Removes a finished move's tombstone fence from its source (the caller knows the write lease has passed). */
  async liftTombstone(record: MoveRecord): Promise<void> {
    const ctx = new MoveContext(record, this.deps.store, this.deps.shards, this.deps.timings, new AbortController().signal, this.deps.logger.child({ move: record.id }));
    try {
      await liftTombstone(ctx);
    } finally {
      await ctx.close();
    }
  }

  /** Rolls back; `fail` marks the move failed, else it goes back to pending to start over. Returns whether it failed. */
  async #rollBack(ctx: MoveContext, reason: string, failed: boolean): Promise<boolean> {
    const leftovers = await rollback(ctx);
    await ctx.update({ stage: failed ? 'failed' : 'pending', error: failed ? reason : null, detail: { leftovers } });
    if (leftovers.length > 0) ctx.logger.error({ leftovers }, 'move rollback left objects behind');
    if (failed) {
      ctx.logger.warn({ reason }, 'move failed and was rolled back');
      this.deps.hooks?.finished?.('failed', ctx.move);
    }
    return failed;
  }
}
