import type { AdminClient } from '../shard-sql/admin-client.js';

/** One shard a move works on: its admin connection (for probes) and its id (for the latency its tenants see). */
export interface GovernedShard {
  readonly client: AdminClient;
  readonly shardId: string;
}

/** The statement latency a shard's tenants see now (ms), as this gateway measures it; undefined: not known. */
export type ObservedLatency = (shardId: string) => number | undefined;

/** How a move yields to the shards' other work (config.moves.yield). */
export interface YieldConfig {
  /** back off when a probe statement, or the tenants' statements, take this many times their latency before the move (0: never by latency) */
  readonly latencyFactor: number;
  /** back off when a physical replica of the source or target has replayed more than this many bytes less WAL than its primary wrote (0: never by lag) */
  readonly replicaLagBytes: number;
  /** the longest single wait */
  readonly maxPauseMs: number;
}

/** ms between looks at the shards: a look costs two round trips a side */
const LOOK_EVERY_MS = 100;
/** a probe faster than this is never pressure, whatever the factor (timer noise on an idle server) */
const FLOOR_MS = 2;

export interface Look {
  readonly latencyMs: number;
  readonly replicaLagBytes: number;
}

/**
 * One side's pressure: a trivial statement's round trip (the server's run queue shows
 * there before anything else) and its physical replicas' replay backlog in bytes (what the
 * copy's WAL costs the readers whose replicas fall out of the lag bound). Bytes, not
 * `replay_lag`: a standby that stops reporting keeps its last `replay_lag`, while its
 * backlog grows with every byte the primary writes.
 */
export async function look(client: AdminClient): Promise<Look> {
  const started = performance.now();
  const { rows } = await client.query<{ lag: string | null }>(
    `SELECT max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn))::bigint::text AS lag FROM pg_stat_replication
      WHERE application_name NOT LIKE 'sg\\_move\\_%'`,
  );
  return { latencyMs: performance.now() - started, replicaLagBytes: Number(rows[0]?.lag ?? 0) };
}

/**
 * Paces a move's bulk work (the copy, the source's cleanup) by what it does to the two
 * shards: before it starts, each side's probe latency and the latency its tenants' statements
 * see through this gateway; then, at most every 100 ms, a look at both — while either is
 * `latencyFactor` × slower than before, or a replica's replay backlog passes
 * `replicaLagBytes`, each pace() waits longer (doubling up to `maxPauseMs`), and shortens
 * again (halving) once they recover. Waiting is what gives the neighbours' requests the
 * cores and the disk back.
 */
export class LoadGovernor {
  #quiet: number[] = [];
  #before: (number | undefined)[] = [];
  #pauseMs = 0;
  #lookedAt = Number.NEGATIVE_INFINITY;
  #waiting = 0;
  #waitStarted = 0;
  /** ms of wall time some piece of the work spent waiting, for the move's timings */
  waitedMs = 0;

  constructor(
    private readonly sides: readonly GovernedShard[],
    private readonly config: YieldConfig,
    private readonly wait: (ms: number) => Promise<void>,
    private readonly observed: ObservedLatency = () => undefined,
  ) {}

  /** Before the work: the median of a few probes per side, and the tenants' latency now. */
  async calibrate(): Promise<void> {
    this.#before = this.sides.map((s) => this.observed(s.shardId));
    this.#quiet = await Promise.all(
      this.sides.map(async ({ client }) => {
        const samples: number[] = [];
        for (let i = 0; i < 5; i++) samples.push((await look(client)).latencyMs);
        return samples.sort((a, b) => a - b)[2]!;
      }),
    );
  }

  /** Between two pieces of bulk work: waits while the shards are under pressure. */
  async pace(): Promise<void> {
    const now = performance.now();
    if (now - this.#lookedAt < LOOK_EVERY_MS) {
      if (this.#pauseMs > 0) await this.#waitFor(this.#pauseMs);
      return;
    }
    this.#lookedAt = now;
    const looks = await Promise.all(this.sides.map(({ client }) => look(client)));
    const pressed = looks.some((l, i) => this.#pressed(l, this.#quiet[i])) || this.sides.some((s, i) => this.#slower(this.observed(s.shardId), this.#before[i]));
    this.#pauseMs = pressed ? Math.min(this.config.maxPauseMs, Math.max(10, this.#pauseMs * 2)) : this.#pauseMs >= 10 ? Math.floor(this.#pauseMs / 2) : 0;
    if (this.#pauseMs > 0) await this.#waitFor(this.#pauseMs);
  }

  #pressed(l: Look, quiet: number | undefined): boolean {
    const { latencyFactor, replicaLagBytes } = this.config;
    if (replicaLagBytes > 0 && l.replicaLagBytes > replicaLagBytes) return true;
    return latencyFactor > 0 && quiet !== undefined && l.latencyMs > Math.max(FLOOR_MS, quiet * latencyFactor);
  }

  /** the tenants' statements slower than before the work, by the factor (and by more than timer noise) */
  #slower(now: number | undefined, before: number | undefined): boolean {
    const { latencyFactor } = this.config;
    return latencyFactor > 0 && now !== undefined && before !== undefined && now > Math.max(before * latencyFactor, before + FLOOR_MS);
  }

  async #waitFor(ms: number): Promise<void> {
    // lanes wait side by side: count the wall time some lane waited, once
    if (this.#waiting++ === 0) this.#waitStarted = performance.now();
    try {
      await this.wait(ms);
    } finally {
      if (--this.#waiting === 0) this.waitedMs += performance.now() - this.#waitStarted;
    }
  }
}
