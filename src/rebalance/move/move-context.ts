import type { Logger } from 'pino';
import { openAdminClient, type AdminClient, type AdminClientOptions } from '../shard-sql/admin-client.js';
import type { FenceHold } from '../shard-sql/fence.js';
import { checkTransition } from './move-stage.js';
import type { PlacementDecision } from './placement-changes.js';
import type { ShardDirectory } from './shard-directory.js';
import type { JobStore } from '../../catalog/job-store.js';
import type { MovePatch, MoveRecord } from '../../catalog/job-rows.js';
import type { TenantTable } from '../shard-sql/shard-admin-sql.js';
import { replicationName } from '../shard-sql/shard-admin-sql.js';
import { tenantTables } from '../shard-sql/tenant-tables.js';
import type { SnapshotDigest } from '../shard-sql/tenant-rows.js';
import { LoadGovernor, type ObservedLatency, type YieldConfig } from './load-governor.js';

/** config.moves: what an operator sets (validated in config/gateway-config.ts) */
export interface MovesConfig {
  readonly concurrency: number;
  readonly leaseMs: number;
  readonly statementTimeoutMs: number;
  /** ms the initial copy may take before the move fails */
  readonly copyTimeoutMs: number;
  /** connection pairs (source reader, target writer) the initial copy runs on side by side */
  readonly copyLanes: number;
  /** rows per batch of the initial copy (one fetch, one insert) */
  readonly copyBatchRows: number;
  /** the initial copy's rate limit, rows a second per move; 0: unlimited */
  readonly copyRowsPerSecond: number;
  /** ms to get within catchUpBytes of the source's WAL before fencing */
  readonly catchUpTimeoutMs: number;
  /** how close (bytes of WAL) the subscription must be before the fence goes up: bounds the write pause */
  readonly catchUpBytes: number;
  /** ms the fence may wait for in-flight writes plus the target's last changes, else the move rolls back */
  readonly fenceTimeoutMs: number;
  /** ms between cutover and deleting the source's rows: readers with a stale placement still find them */
  readonly cleanupGraceMs: number;
  /** ms between polls of replication progress */
  readonly pollMs: number;
  /** checksums (every stored column) or row counts only, compared while fenced */
  readonly verify: 'checksum' | 'count';
  /** how bulk work yields to the shards' other work */
  readonly yield: YieldConfig;
}

/** What one move run needs of the config, plus how to open its admin connections. */
export type MoverTimings = Omit<MovesConfig, 'concurrency' | 'leaseMs' | 'statementTimeoutMs'> & {
  readonly admin: AdminClientOptions;
  /** the statement latency a shard's tenants see through this gateway now: bulk work yields when it rises */
  readonly observedLatency?: ObservedLatency;
};

/**
 * One run of one move: its record, its connections to both primaries (opened on first
 * use, closed at the end), and what earlier stages of this run learnt.
 */
export class MoveContext {
  readonly name: string;
  #source: AdminClient | undefined;
  #target: AdminClient | undefined;
  #tables: TenantTable[] | undefined;
  /** extra connections per side for parallel verification, opened before the fence and kept for it */
  readonly #helpers = new Map<'source' | 'target', AdminClient[]>();
  fence: FenceHold | undefined;
  /** performance.now() when the fence lock was requested in this run */
  fenceStartedAt: number | undefined;
  /** a change advance() made in memory only, written with the next update() */
  #unwritten: MovePatch | undefined;
  /** whether the target had a fence row (an earlier move's, away from it) before this run's fence: cutover lifts it */
  targetFenced: boolean | undefined;
  /** where the cutover places the tenant, decided (the ring read) before the fence */
  placement: PlacementDecision | undefined;
  /** per side, the transactions open when change tracking started: the baseline waits them out */
  untracked: { readonly source: readonly string[]; readonly target: readonly string[] } | undefined;
  /** per side, the unfenced checksums and their snapshots: the fenced verification adds the changes since */
  baseline: { readonly source: Record<string, SnapshotDigest>; readonly target: Record<string, SnapshotDigest> } | undefined;

  constructor(
    public move: MoveRecord,
    readonly store: JobStore,
    readonly shards: ShardDirectory,
    readonly timings: MoverTimings,
    readonly signal: AbortSignal,
    readonly logger: Logger,
  ) {
    this.name = replicationName(move.id);
  }

  sourceUrl(): Promise<string> {
    return this.shards.primaryUrl(this.move.source);
  }

  targetUrl(): Promise<string> {
    return this.shards.primaryUrl(this.move.target);
  }

  async source(): Promise<AdminClient> {
    this.#source ??= await openAdminClient(await this.sourceUrl(), this.timings.admin, `${this.move.source}:src`);
    return this.#source;
  }

  async target(): Promise<AdminClient> {
    this.#target ??= await openAdminClient(await this.targetUrl(), this.timings.admin, `${this.move.target}:dst`);
    return this.#target;
  }

  /**
   * `n` connections to one side: the stage's own first, then helpers opened once per run.
   * The fenced verification reuses the ones the warm-up pass opened, so the tenant's write
   * pause does not include connection setup.
   */
  async connections(side: 'source' | 'target', n: number): Promise<AdminClient[]> {
    const first = side === 'source' ? await this.source() : await this.target();
    const helpers = this.#helpers.get(side) ?? [];
    this.#helpers.set(side, helpers);
    while (helpers.length < n - 1) {
      const url = side === 'source' ? await this.sourceUrl() : await this.targetUrl();
      helpers.push(await openAdminClient(url, this.timings.admin, `${side === 'source' ? this.move.source : this.move.target}:verify`));
    }
    return [first, ...helpers.slice(0, n - 1)];
  }

  /**
   * A calibrated governor for bulk work on the move's shards (`both`, or the source alone:
   * its cleanup), waiting through pause() so a stopped run stops waiting.
   */
  async governor(sides: 'both' | 'source'): Promise<LoadGovernor> {
    const shards = [{ client: await this.source(), shardId: this.move.source }];
    if (sides === 'both') shards.push({ client: await this.target(), shardId: this.move.target });
    const governor = new LoadGovernor(shards, this.timings.yield, (ms) => this.pause(ms), this.timings.observedLatency);
    await governor.calibrate();
    return governor;
  }

  /** The source's tenant tables, read once per run. */
  async tables(): Promise<TenantTable[]> {
    this.#tables ??= await tenantTables(await this.source());
    return this.#tables;
  }

  /**
   * Persists a change of the move and keeps the in-memory record in step. The one place a
   * move's stage is written: a transition the state machine forbids is refused here.
   */
  async update(patch: MovePatch): Promise<void> {
    if (patch.stage !== undefined) checkTransition(this.move.stage, patch.stage);
    const unwritten = this.#unwritten;
    const merged: MovePatch = unwritten
      ? { ...unwritten, ...patch, detail: unwritten.detail || patch.detail ? { ...unwritten.detail, ...patch.detail } : undefined }
      : patch;
    await this.store.updateMove(this.move.id, merged);
    this.#unwritten = undefined;
    this.#apply(patch);
  }

  /**
   * Moves the in-memory record on without a catalog write (a stage nothing resumes from,
   * inside the tenant's write pause); the next update() writes it along.
   */
  advance(patch: MovePatch): void {
    if (patch.stage !== undefined) checkTransition(this.move.stage, patch.stage);
    const unwritten = this.#unwritten;
    this.#unwritten = unwritten ? { ...unwritten, ...patch, detail: { ...unwritten.detail, ...patch.detail } } : patch;
    this.#apply(patch);
  }

  #apply(patch: MovePatch): void {
    this.move = {
      ...this.move,
      ...(patch.stage ? { stage: patch.stage } : {}),
      ...(patch.rowsCopied !== undefined ? { rowsCopied: patch.rowsCopied } : {}),
      ...(patch.detail ? { detail: { ...this.move.detail, ...patch.detail } } : {}),
      ...(patch.error !== undefined ? { error: patch.error } : {}),
    };
  }

  /** Waits ms, or throws the abort reason as soon as the run is stopped. */
  async pause(ms: number): Promise<void> {
    this.signal.throwIfAborted();
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        clearTimeout(timer);
        reject(this.signal.reason);
      };
      const timer = setTimeout(() => {
        this.signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      this.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Drops the connections; a fence hold ends with its session (its row stays). */
  async close(): Promise<void> {
    const clients = [this.#source, this.#target, ...[...this.#helpers.values()].flat()];
    this.#source = undefined;
    this.#target = undefined;
    this.#helpers.clear();
    await Promise.all(clients.map((c) => c?.end().catch(() => undefined)));
    await this.fence?.release();
    this.fence = undefined;
  }

  /** Forgets a connection that failed, so the next use opens a new one. */
  async reset(): Promise<void> {
    const fence = this.fence;
    this.fence = undefined;
    await this.close();
    this.fence = fence;
  }
}
