import { Sequelize } from 'sequelize';
import type { Logger } from 'pino';
import { adminPrimaryUrl, type ShardTopology } from '../cluster/shard-registry.js';
import type { PgTls } from '../transport/pg-tls.js';
import { ensureSeriesPartitions } from '../../shards/migrations/shard/index.js';

export interface SeriesPartitionKeeperOptions {
  readonly retentionDays: number;
  readonly aheadDays: number;
  readonly intervalMs: number;
  readonly connectTimeoutMs: number;
  /** the gateway's TLS to PostgreSQL, as for every other connection */
  readonly tls: PgTls;
}

/**
 * Keeps every shard's series_points partitions ready: a day partition for every day of
 * the retention window and `aheadDays` beyond today, and none older (dropped whole, with
 * the rollups past the window). At start and on migrating a shard (a shard about to take a
 * moved tenant gets its partitions before the copy), then every `intervalMs`. No insert
 * meets a missing partition: the ingest accepts a point at most a day ahead, and the
 * window runs `aheadDays` (≥ 2) ahead. Over the privileged URL; pods racing are
 * serialised by an advisory lock in the function itself.
 */
export class SeriesPartitionKeeper {
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly shards: () => readonly ShardTopology[],
    private readonly options: SeriesPartitionKeeperOptions,
    private readonly logger: Logger,
  ) {}

  /** Partitions created on this shard (0 when all were there). */
  async keep(shard: Pick<ShardTopology, 'id' | 'primary' | 'admin'>): Promise<number> {
    const connection = this.options.tls.sequelize(adminPrimaryUrl(shard));
    const sequelize = new Sequelize(connection.url, {
      dialect: 'postgres',
      hooks: connection.hooks,
      logging: false,
      pool: { max: 1, min: 0, idle: 1_000 },
      dialectOptions: { application_name: 'shardgate:partitions', connectionTimeoutMillis: this.options.connectTimeoutMs },
      retry: { max: 0 },
    });
    try {
      const created = await ensureSeriesPartitions(sequelize, this.options.retentionDays, this.options.aheadDays);
      if (created > 0) this.logger.info({ shard: shard.id, created }, 'series partitions created');
      return created;
    } finally {
      await sequelize.close();
    }
  }

  /** One round over every shard; a shard that fails is logged and tried again next round. */
  async keepAll(): Promise<void> {
    for (const shard of this.shards()) {
      await this.keep(shard).catch((err: unknown) => this.logger.warn({ shard: shard.id, err }, 'series partitions not kept this round'));
    }
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.keepAll(), this.options.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
