import { Sequelize, QueryTypes, UniqueConstraintError, type Transaction } from 'sequelize';
import { migrate, MigrationLock } from '../schema/migrator.js';
import { catalogMigrations } from '../../shards/migrations/catalog/index.js';
import { CatalogUnavailableError, CONNECTION_FAILURE, ConflictError, GatewayError } from '../errors/errors.js';

export type TenantStatus = 'active' | 'suspended';
export type ShardState = 'active' | 'standby' | 'draining' | 'retired';

export interface TenantRow {
  readonly id: string;
  readonly name: string;
  readonly status: TenantStatus;
  readonly plan: string;
  readonly apiKeyHash: string;
}

export interface ShardRow {
  readonly id: string;
  readonly primary: string;
  readonly replicas: ReadonlyArray<string | { name: string; url: string }>;
  readonly weight: number;
  readonly state: ShardState;
}

export interface PinRow {
  readonly tenantId: string;
  readonly shardId: string;
  readonly reason: string;
}

export interface CatalogStoreOptions {
  readonly url: string;
  readonly poolMax: number;
  readonly connectTimeoutMs: number;
  readonly statementTimeoutMs: number;
}

type Row = Record<string, unknown>;

const tenantFromRow = (r: Row): TenantRow => ({
  id: r.id as string,
  name: r.name as string,
  status: r.status as TenantStatus,
  plan: r.plan as string,
  apiKeyHash: r.api_key_hash as string,
});

const shardFromRow = (r: Row): ShardRow => ({
  id: r.id as string,
  primary: r.primary_url as string,
  replicas: r.replicas as ShardRow['replicas'],
  weight: r.weight as number,
  state: r.state as ShardState,
});

/**
 * The control plane's store: tenants, shards and ring membership, pins, and a version
 * number bumped on every change so gateways can tell their cached view is stale.
 */
export class CatalogStore {
  readonly sequelize: Sequelize;

  constructor(options: CatalogStoreOptions) {
    this.sequelize = new Sequelize(options.url, {
      dialect: 'postgres',
      logging: false,
      pool: { max: options.poolMax, min: 0, idle: 10_000, acquire: options.connectTimeoutMs + 1000 },
      dialectOptions: {
        application_name: 'shardgate:catalog',
        connectionTimeoutMillis: options.connectTimeoutMs,
        statement_timeout: options.statementTimeoutMs,
        // a hung catalog (SIGSTOP) never enforces statement_timeout: bound it client-side
        query_timeout: (options.statementTimeoutMs || 5000) + 1000,
      },
      retry: { max: 0 },
    });
  }

  async migrate(): Promise<string[]> {
    return migrate(this.sequelize, catalogMigrations, MigrationLock.Catalog);
  }

  private async select(sql: string, bind: unknown[] = [], transaction?: Transaction): Promise<Row[]> {
    try {
      return await this.sequelize.query<Row>(sql, { type: QueryTypes.SELECT, bind, transaction: transaction ?? null });
    } catch (err) {
      throw this.wrap(err);
    }
  }

  private async exec(sql: string, bind: unknown[] = [], transaction?: Transaction): Promise<number> {
    try {
      const [, meta] = await this.sequelize.query(sql, { bind, transaction: transaction ?? null });
      return (meta as { rowCount?: number } | undefined)?.rowCount ?? 0;
    } catch (err) {
      throw this.wrap(err);
    }
  }

  private wrap(err: unknown): Error {
    if (err instanceof GatewayError || err instanceof UniqueConstraintError) return err as Error;
    const name = (err as Error).name ?? '';
    const message = (err as Error).message ?? '';
    if (
      name.startsWith('SequelizeConnection') ||
      name === 'SequelizeHostNotFoundError' ||
      name === 'SequelizeTimeoutError' ||
      CONNECTION_FAILURE.test(message) ||
      /57P0[123]/.test(message)
    ) {
      return new CatalogUnavailableError({ cause: err });
    }
    return err as Error;
  }

  async version(): Promise<bigint> {
    const rows = await this.select('SELECT version::text AS version FROM catalog_meta');
    return BigInt((rows[0]?.version as string | undefined) ?? '0');
  }

  private async bumpVersion(transaction?: Transaction): Promise<void> {
    await this.exec('UPDATE catalog_meta SET version = version + 1', [], transaction);
  }

  // --- tenants ---------------------------------------------------------------------

  async createTenant(tenant: { id: string; name: string; apiKeyHash: string }): Promise<TenantRow> {
    try {
      const rows = await this.select(
        `INSERT INTO tenants (id, name, api_key_hash) VALUES ($1, $2, $3) RETURNING *`,
        [tenant.id, tenant.name, tenant.apiKeyHash],
      );
      return tenantFromRow(rows[0]!);
    } catch (err) {
      if (err instanceof UniqueConstraintError) throw new ConflictError(`Tenant ${tenant.id} already exists`, 'id');
      throw err;
    }
  }

  async getTenant(id: string): Promise<TenantRow | undefined> {
    const rows = await this.select('SELECT * FROM tenants WHERE id = $1', [id]);
    return rows[0] ? tenantFromRow(rows[0]) : undefined;
  }

  async findTenantByKeyHash(apiKeyHash: string): Promise<TenantRow | undefined> {
    const rows = await this.select('SELECT * FROM tenants WHERE api_key_hash = $1', [apiKeyHash]);
    return rows[0] ? tenantFromRow(rows[0]) : undefined;
  }

  async setTenantStatus(id: string, status: TenantStatus): Promise<TenantRow | undefined> {
    const rows = await this.select(
      'UPDATE tenants SET status = $2, updated_at = now() WHERE id = $1 RETURNING *',
      [id, status],
    );
    return rows[0] ? tenantFromRow(rows[0]) : undefined;
  }

  async listTenantIds(): Promise<string[]> {
    const rows = await this.select('SELECT id FROM tenants ORDER BY id');
    return rows.map((r) => r.id as string);
  }

  // --- shards ----------------------------------------------------------------------

  async listShards(): Promise<ShardRow[]> {
    return (await this.select('SELECT * FROM shards ORDER BY id')).map(shardFromRow);
  }

  async addShard(shard: ShardRow): Promise<ShardRow> {
    try {
      return await this.sequelize.transaction(async (transaction) => {
        const rows = await this.select(
          `INSERT INTO shards (id, primary_url, replicas, weight, state) VALUES ($1, $2, $3::jsonb, $4, $5) RETURNING *`,
          [shard.id, shard.primary, JSON.stringify(shard.replicas), shard.weight, shard.state],
          transaction,
        );
        await this.bumpVersion(transaction);
        return shardFromRow(rows[0]!);
      });
    } catch (err) {
      if (err instanceof UniqueConstraintError) throw new ConflictError(`Shard ${shard.id} already exists`, 'id');
      throw this.wrap(err);
    }
  }

  /** Seeds the shard list from configuration the first time the catalog is used. */
  async seedShards(shards: readonly ShardRow[]): Promise<void> {
    await this.sequelize.transaction(async (transaction) => {
      const existing = await this.select('SELECT count(*)::int AS n FROM shards', [], transaction);
      if ((existing[0]?.n as number) > 0) return;
      for (const shard of shards) {
        await this.exec(
          `INSERT INTO shards (id, primary_url, replicas, weight, state) VALUES ($1, $2, $3::jsonb, $4, $5)
           ON CONFLICT (id) DO NOTHING`,
          [shard.id, shard.primary, JSON.stringify(shard.replicas), shard.weight, shard.state],
          transaction,
        );
      }
      await this.bumpVersion(transaction);
    });
  }

  /**
   * Rewrites where known shards live (the embedded default's databases get new ports on
   * every start). Ring membership and state are left alone.
   */
  async updateShardEndpoints(shards: ReadonlyArray<Pick<ShardRow, 'id' | 'primary' | 'replicas'>>): Promise<void> {
    await this.sequelize.transaction(async (transaction) => {
      for (const shard of shards) {
        await this.exec(
          'UPDATE shards SET primary_url = $2, replicas = $3::jsonb, updated_at = now() WHERE id = $1',
          [shard.id, shard.primary, JSON.stringify(shard.replicas)],
          transaction,
        );
      }
      await this.bumpVersion(transaction);
    });
  }

  // --- pins ------------------------------------------------------------------------

  async listPins(): Promise<PinRow[]> {
    const rows = await this.select('SELECT tenant_id, shard_id, reason FROM pins');
    return rows.map((r) => ({ tenantId: r.tenant_id as string, shardId: r.shard_id as string, reason: r.reason as string }));
  }

  // pins change at every move's cutover, inside the tenant's write pause: one statement
  // (a data-modifying CTE is atomic with the version bump) rather than a four-trip transaction

  async setPin(pin: PinRow): Promise<void> {
    await this.exec(
      `WITH pin AS (
         INSERT INTO pins (tenant_id, shard_id, reason) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id) DO UPDATE SET shard_id = EXCLUDED.shard_id, reason = EXCLUDED.reason)
       UPDATE catalog_meta SET version = version + 1`,
      [pin.tenantId, pin.shardId, pin.reason],
    );
  }

  async deletePin(tenantId: string): Promise<void> {
    await this.exec('WITH gone AS (DELETE FROM pins WHERE tenant_id = $1) UPDATE catalog_meta SET version = version + 1', [tenantId]);
  }

  async close(): Promise<void> {
    await this.sequelize.close();
  }
}
