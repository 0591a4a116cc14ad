import { Sequelize, QueryTypes } from 'sequelize';
import type { Lsn } from './lsn.js';
import { parseLsn } from './lsn.js';
import { defineShardModels, type ModelDeps, type ShardModels } from '../models/index.js';

export type NodeRole = 'primary' | 'replica';

export interface NodeHealth {
  healthy: boolean;
  /** primary: last pg_current_wal_lsn(); replica: last pg_last_wal_replay_lsn() */
  lsn: Lsn | undefined;
  lagBytes: number;
  lagMs: number;
  checkedAt: number;
  error: string | undefined;
}

/** Told about every query a node runs: its duration feeds metrics and the slow-query log. */
export type QueryObserver = (node: { shardId: string; role: NodeRole; name: string }, elapsedMs: number, sql: string) => void;

export interface PoolStats {
  readonly size: number;
  readonly available: number;
  readonly using: number;
  readonly waiting: number;
  readonly max: number;
}

export interface NodeSettings {
  readonly poolMax: number;
  readonly poolMin: number;
  readonly poolIdleMs: number;
  readonly poolAcquireMs: number;
  readonly statementTimeoutMs: number;
  readonly idleInTransactionTimeoutMs: number;
  readonly connectTimeoutMs: number;
}

/**
 * One PostgreSQL server of a shard: its own Sequelize instance and its own set of models
 * (never Sequelize's `replication` option, which picks replicas per connection with no
 * health or lag awareness). Health is written by the HealthMonitor, read by the router.
 */
export class ShardNode {
  readonly sequelize: Sequelize;
  readonly models: ShardModels;
  health: NodeHealth = { healthy: false, lsn: undefined, lagBytes: 0, lagMs: 0, checkedAt: 0, error: 'not checked yet' };

  constructor(
    readonly shardId: string,
    readonly role: NodeRole,
    /** stable name for headers, spans and metrics: 'primary' or the replica's name */
    readonly name: string,
    /** connection URL (with credentials): never log it; use redactUrl */
    readonly url: string,
    settings: NodeSettings,
    modelDeps: ModelDeps,
    observer?: QueryObserver,
  ) {
    this.sequelize = new Sequelize(url, {
      dialect: 'postgres',
      // with benchmark on, Sequelize hands each query's duration to `logging`
      logging: observer ? (sql: string, elapsed?: number) => observer(this, elapsed ?? 0, sql) : false,
      benchmark: observer !== undefined,
      pool: { max: settings.poolMax, min: settings.poolMin, idle: settings.poolIdleMs, acquire: settings.poolAcquireMs, evict: 1000 },
      dialectOptions: {
        application_name: `shardgate:${shardId}:${name}`,
        statement_timeout: settings.statementTimeoutMs,
        idle_in_transaction_session_timeout: settings.idleInTransactionTimeoutMs,
        connectionTimeoutMillis: settings.connectTimeoutMs,
        // client-side bound: a hung server (SIGSTOP) never enforces statement_timeout itself
        query_timeout: settings.statementTimeoutMs > 0 ? settings.statementTimeoutMs + 1000 : undefined,
        keepAlive: true,
      },
      retry: { max: 0 },
    });
    this.models = defineShardModels(this.sequelize, modelDeps);
  }

  /** The primary's current WAL write position (after a commit: covers that commit). */
  async currentWalLsn(): Promise<Lsn | undefined> {
    const rows = await this.sequelize.query<{ lsn: string | null }>('SELECT pg_current_wal_lsn()::text AS lsn', {
      type: QueryTypes.SELECT,
    });
    const text = rows[0]?.lsn;
    return text ? parseLsn(text) : undefined;
  }

  /** The node's connection pool right now (for gauges and /admin/shards). */
  poolStats(): PoolStats {
    const pool = (this.sequelize.connectionManager as unknown as { pool?: Partial<Record<'size' | 'available' | 'using' | 'waiting' | 'maxSize', number>> }).pool;
    return { size: pool?.size ?? 0, available: pool?.available ?? 0, using: pool?.using ?? 0, waiting: pool?.waiting ?? 0, max: pool?.maxSize ?? 0 };
  }

  async close(): Promise<void> {
    await this.sequelize.close();
  }
}
