import type { Logger } from 'pino';
import type { ShardRegistry } from './shard-registry.js';
import type { Shard } from './shard.js';
import type { ShardNode } from './shard-node.js';
import { parseLsn } from './lsn.js';
import { LagEstimator } from './lag-estimator.js';
import { NodeProbe, ProbeTimeoutError } from './node-probe.js';

export interface HealthMonitorOptions {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
}

/**
 * Measures every node continuously (never per request): primary reachability and WAL
 * position, each replica's replay position and lag. The router only reads the result.
 */
export class HealthMonitor {
  readonly #estimators = new Map<string, LagEstimator>();
  readonly #inFlight = new Set<ShardNode>();
  readonly #probes = new Map<ShardNode, NodeProbe>();
  /** probes in a row that timed out, per node: one alone is a stall of this busy process as often as of the node */
  readonly #timeouts = new Map<ShardNode, number>();
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> | undefined;

  constructor(
    private readonly registry: ShardRegistry,
    private readonly options: HealthMonitorOptions,
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.#timer) return;
    const tick = () => {
      this.#round = this.checkAll().finally(() => {
        if (this.#timer) this.#timer = setTimeout(tick, this.options.intervalMs);
      });
    };
    this.#timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#round;
    for (const probe of this.#probes.values()) probe.close();
    this.#probes.clear();
  }

  /** One full round over every shard; also used at start so routing begins informed. */
  async checkAll(): Promise<void> {
    await Promise.all(this.registry.all().map((shard) => this.checkShard(shard)));
  }

  async checkShard(shard: Shard): Promise<void> {
    let estimator = this.#estimators.get(shard.id);
    if (!estimator) {
      estimator = new LagEstimator();
      this.#estimators.set(shard.id, estimator);
    }
    await this.checkPrimary(shard.primary, estimator);
    await Promise.all(shard.replicas.map((replica) => this.checkReplica(replica, estimator)));
  }

  private async probe(node: ShardNode, sql: string): Promise<Record<string, unknown> | undefined> {
    // a hung node must not stack up probes: skip it until the last one returns
    if (this.#inFlight.has(node)) return undefined;
    this.#inFlight.add(node);
    let probe = this.#probes.get(node);
    if (!probe) {
      probe = new NodeProbe(node.url, {
        connectTimeoutMs: Math.min(this.options.connectTimeoutMs, this.options.timeoutMs),
        timeoutMs: this.options.timeoutMs,
        applicationName: `shardgate-probe:${node.shardId}:${node.name}`,
        tls: node.tls,
      });
      this.#probes.set(node, probe);
    }
    try {
      const row = (await probe.query<Record<string, unknown>>(sql)) ?? {};
      this.#timeouts.delete(node);
      return row;
    } catch (err) {
      // a refused or broken connection is down now; a slow answer is down the second time in a row
      const timeouts = err instanceof ProbeTimeoutError ? (this.#timeouts.get(node) ?? 0) + 1 : 0;
      this.#timeouts.set(node, timeouts);
      if (timeouts !== 1) {
        const wasHealthy = node.health.healthy;
        this.markDown(node, err as Error);
        // what is in flight on a node that stopped answering would wait out the query timeout
        if (wasHealthy) {
          const cut = node.abortInFlight();
          if (cut > 0) this.logger.warn({ shard: node.shardId, node: node.name, connections: cut }, 'in-flight statements on an unanswering node cut short');
        }
      }
      return undefined;
    } finally {
      this.#inFlight.delete(node);
    }
  }

  private async checkPrimary(node: ShardNode, estimator: LagEstimator): Promise<void> {
    const row = await this.probe(node, 'SELECT pg_current_wal_lsn()::text AS lsn');
    if (row === undefined) return;
    const now = Date.now();
    const lsn = typeof row.lsn === 'string' ? parseLsn(row.lsn) : undefined;
    if (lsn !== undefined) estimator.record(lsn, now);
    this.markUp(node, { lsn, lagBytes: 0, lagMs: 0, checkedAt: now });
  }

  private async checkReplica(node: ShardNode, estimator: LagEstimator): Promise<void> {
    const row = await this.probe(
      node,
      'SELECT pg_is_in_recovery() AS in_recovery, pg_last_wal_replay_lsn()::text AS lsn',
    );
    if (row === undefined) return;
    const now = Date.now();
    if (row.in_recovery !== true) {
      // a promoted or misconfigured "replica" would serve reads that skip the real primary
      this.markDown(node, new Error('node is not in recovery (not a replica)'));
      return;
    }
    const lsn = typeof row.lsn === 'string' ? parseLsn(row.lsn) : undefined;
    if (lsn === undefined) {
      this.markDown(node, new Error('replica reports no replay position'));
      return;
    }
    this.markUp(node, { lsn, lagBytes: estimator.lagBytes(lsn), lagMs: estimator.lagMs(lsn, now), checkedAt: now });
  }

  private markUp(node: ShardNode, state: { lsn: bigint | undefined; lagBytes: number; lagMs: number; checkedAt: number }): void {
    if (!node.health.healthy) this.logger.info({ shard: node.shardId, node: node.name }, 'node healthy');
    node.health = { healthy: true, error: undefined, ...state };
  }

  /** A request saw the node fail: out of rotation now, back at the next good probe. */
  reportFailure(node: ShardNode, err: Error): void {
    this.markDown(node, err);
  }

  private markDown(node: ShardNode, err: Error): void {
    if (node.health.healthy) this.logger.warn({ shard: node.shardId, node: node.name, err: err.message }, 'node unhealthy');
    node.health = { ...node.health, healthy: false, error: err.message, checkedAt: Date.now() };
  }
}
