import { z } from 'zod';

/** config.placement: how fresh a gateway keeps its placement, and the write lease that makes a moved tenant's tombstone removable. */
export const placementConfigShape = z
  .object({
    /** ms between polls of the catalog's placement version (the fallback when no broadcast arrives) */
    refreshIntervalMs: z.number().int().min(50).default(2000),
    /**
     * ms a placement read from the catalog stays good for writes: a gateway that could not
     * confirm its placement for longer refuses writes (503 PLACEMENT_STALE; reads go on), so
     * a moved tenant's tombstone on its old shard can go once this has passed; 0: no lease,
     * tombstones stay for good
     */
    writeLeaseMs: z.number().int().min(0).default(60_000),
    /** ms past the lease before a tombstone goes: a write that passed the lease check just in time still reaching its shard */
    tombstoneMarginMs: z.number().int().min(0).default(30_000),
  })
  .strict()
  .refine((p) => p.writeLeaseMs === 0 || p.writeLeaseMs >= 3 * p.refreshIntervalMs, {
    path: ['writeLeaseMs'],
    message: 'must be 0 (no lease) or at least three refresh intervals (a poll missed is not a lease lost)',
  })
  .default({ refreshIntervalMs: 2000, writeLeaseMs: 60_000, tombstoneMarginMs: 30_000 });

/** config.moves: the tenant mover (its shape as the mover sees it: src/rebalance/move/move-context.ts). */
export const movesConfigShape = z
  .object({
    /** moves running at once on one gateway */
    concurrency: z.number().int().min(1).max(64),
    /** ms a gateway's claim on a job lasts without renewal; then another gateway resumes it */
    leaseMs: z.number().int().min(100),
    /** ms one statement of the mover may take (creating a replication slot waits for open transactions) */
    statementTimeoutMs: z.number().int().min(100),
    /** ms the initial copy of a tenant may take */
    copyTimeoutMs: z.number().int().min(100),
    /** connection pairs (source reader, target writer) copying a table side by side, by heap block: the target's index upkeep is most of a copy's cost */
    copyLanes: z.number().int().min(1).max(16).default(2),
    /** rows per batch of the initial copy (one fetch from the source, one insert on the target) */
    copyBatchRows: z.number().int().min(1).max(100_000).default(2000),
    /** the initial copy's rate limit in rows a second, per move (spares the source and target under load); 0: unlimited */
    copyRowsPerSecond: z.number().int().min(0).default(0),
    /** ms to catch up with the source before the fence */
    catchUpTimeoutMs: z.number().int().min(100),
    /** bytes of WAL the subscription may trail by when the fence goes up (bounds the write pause) */
    catchUpBytes: z.number().int().min(0),
    /** ms the fence may last before cutover is reached; past it the move rolls back */
    fenceTimeoutMs: z.number().int().min(100),
    /** ms between cutover and deleting the source's rows, for readers with a stale placement */
    cleanupGraceMs: z.number().int().min(0),
    /** ms between polls of replication progress */
    pollMs: z.number().int().min(5),
    /** what must agree before cutover: row counts and checksums, or row counts only (a shorter write pause for big tenants) */
    verify: z.enum(['checksum', 'count']),
    /**
     * how the copy and the source's cleanup yield to the shards' other work: they wait
     * while a probe statement on the source or target is `latencyFactor` × slower than
     * before the move, or a physical replica of either lags past `replicaLagMs`
     */
    yield: z
      .object({
        latencyFactor: z.number().min(0).default(2),
        replicaLagBytes: z.number().int().min(0).default(16 * 1024 * 1024),
        maxPauseMs: z.number().int().min(1).default(500),
      })
      .strict()
      .default({ latencyFactor: 2, replicaLagBytes: 16 * 1024 * 1024, maxPauseMs: 500 }),
  })
  .strict();
