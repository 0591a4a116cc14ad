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
    url: string,
    settings: NodeSettings,
    modelDeps: ModelDeps,
  ) {
    this.sequelize = new Sequelize(url, {
      dialect: 'postgres',
      logging: false,
      benchmark: false,
      pool: { max: settings.poolMax, min: settings.poolMin, idle: settings.poolIdleMs, acquire: settings.poolAcquireMs, evict: 1000 },
      dialectOptions: {
        application_name: `shardgate:${shardId}:${name}`,
        statement_timeout: settings.statementTimeoutMs,
        idle_in_transaction_session_timeout: settings.idleInTransactionTimeoutMs,
        connectionTimeoutMillis: settings.connectTimeoutMs,
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

  async close(): Promise<void> {
    await this.sequelize.close();
  }
}
