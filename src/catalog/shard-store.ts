import { UniqueConstraintError, type Transaction } from 'sequelize';
import { ConflictError } from '../errors/errors.js';
import type { CatalogDatabase } from './catalog-database.js';
import { shardFromRow, type ShardRow, type ShardState } from './catalog-rows.js';

const adminJson = (shard: Pick<ShardRow, 'admin'>): string | null => (shard.admin === undefined ? null : JSON.stringify(shard.admin));

const SET_STATE = 'UPDATE shards SET state = $2, updated_at = now() WHERE id = $1';

/**
 * Shards in the catalog: where each one's nodes are, its weight, and its state (ring
 * membership). Every change bumps the catalog version.
 */
export class ShardStore {
  constructor(private readonly db: CatalogDatabase) {}

  async list(transaction?: Transaction): Promise<ShardRow[]> {
    return (await this.db.select('SELECT * FROM shards ORDER BY id', [], transaction)).map(shardFromRow);
  }

  async add(shard: ShardRow): Promise<ShardRow> {
    try {
      return await this.db.transaction(async (transaction) => {
        const rows = await this.db.select(
          `INSERT INTO shards (id, primary_url, replicas, weight, state, admin) VALUES ($1, $2, $3::jsonb, $4, $5, $6::jsonb) RETURNING *`,
          [shard.id, shard.primary, JSON.stringify(shard.replicas), shard.weight, shard.state, adminJson(shard)],
          transaction,
        );
        await this.db.bumpVersion(transaction);
        return shardFromRow(rows[0]!);
      });
    } catch (err) {
      if (err instanceof UniqueConstraintError) throw new ConflictError(`Shard ${shard.id} already exists`, 'id');
      throw err;
    }
  }

  /** Seeds the shard list from configuration the first time the catalog is used. */
  async seed(shards: readonly ShardRow[]): Promise<void> {
    await this.db.transaction(async (transaction) => {
      const existing = await this.db.select('SELECT count(*)::int AS n FROM shards', [], transaction);
      if ((existing[0]?.n as number) > 0) return;
      for (const shard of shards) {
        await this.db.exec(
          `INSERT INTO shards (id, primary_url, replicas, weight, state, admin) VALUES ($1, $2, $3::jsonb, $4, $5, $6::jsonb)
           ON CONFLICT (id) DO NOTHING`,
          [shard.id, shard.primary, JSON.stringify(shard.replicas), shard.weight, shard.state, adminJson(shard)],
          transaction,
        );
      }
      await this.db.bumpVersion(transaction);
    });
  }

  /**
   * Rewrites where known shards live (the embedded default's databases get new ports on
   * every start). Ring membership and state are left alone.
   */
  async updateEndpoints(shards: ReadonlyArray<Pick<ShardRow, 'id' | 'primary' | 'replicas' | 'admin'>>): Promise<void> {
    await this.db.transaction(async (transaction) => {
      for (const shard of shards) {
        await this.db.exec(
          'UPDATE shards SET primary_url = $2, replicas = $3::jsonb, admin = $4::jsonb, updated_at = now() WHERE id = $1',
          [shard.id, shard.primary, JSON.stringify(shard.replicas), adminJson(shard)],
          transaction,
        );
      }
      await this.db.bumpVersion(transaction);
    });
  }

  /** A shard's state (a drained shard is retired). */
  async setState(shardId: string, state: ShardState): Promise<void> {
    await this.db.transaction(async (transaction) => {
      await this.setStateIn(transaction, shardId, state);
      await this.db.bumpVersion(transaction);
    });
  }

  /** setState(), inside the caller's transaction, which bumps the version once for all its changes. */
  async setStateIn(transaction: Transaction, shardId: string, state: ShardState): Promise<void> {
    await this.db.exec(SET_STATE, [shardId, state], transaction);
  }
}
