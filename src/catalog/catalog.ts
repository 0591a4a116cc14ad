import { ApiKeyStore } from './api-key-store.js';
import { BackupStore } from './backup-store.js';
import { CatalogDatabase, type CatalogDatabaseOptions } from './catalog-database.js';
import { JobStore } from './job-store.js';
import { PartnershipStore } from './partnership-store.js';
import { PinStore } from './pin-store.js';
import { SchemaChangeStore } from './schema-change-store.js';
import type { ShardSecrets } from './shard-secrets.js';
import { ShardStore } from './shard-store.js';
import { TenantStore, type PlacementRing } from './tenant-store.js';
import { TransactionStore } from './transaction-store.js';

/**
 * The control plane's database, one store per concern over one connection pool: tenants,
 * shards (and so the ring), pins, where each tenant lived when, move jobs, partnerships,
 * the log of distributed transactions, schema changes, backups, and the version bumped on every placement or
 * topology change so gateways can tell their cached view is stale. Built once by the
 * composition root; each consumer is given the narrowest part it uses.
 */
export class Catalog {
  readonly tenants: TenantStore;
  readonly apiKeys: ApiKeyStore;
  readonly shards: ShardStore;
  readonly pins: PinStore;
  readonly jobs: JobStore;
  readonly partnerships: PartnershipStore;
  readonly transactions: TransactionStore;
  readonly schemaChanges: SchemaChangeStore;
  readonly backups: BackupStore;
  readonly #db: CatalogDatabase;

  constructor(options: CatalogDatabaseOptions & { readonly shardSecrets: ShardSecrets; readonly ring: PlacementRing }) {
    this.#db = new CatalogDatabase(options);
    this.tenants = new TenantStore(this.#db, options.ring);
    this.apiKeys = new ApiKeyStore(this.#db);
    this.shards = new ShardStore(this.#db, options.shardSecrets);
    this.pins = new PinStore(this.#db);
    this.jobs = new JobStore({ db: this.#db, tenants: this.tenants, shards: this.shards, pins: this.pins });
    this.partnerships = new PartnershipStore(this.#db);
    this.transactions = new TransactionStore(this.#db);
    this.schemaChanges = new SchemaChangeStore(this.#db);
    this.backups = new BackupStore(this.#db);
  }

  /** The pending migrations, then the placement history of tenants it does not know (the ring is not SQL's to compute). */
  async migrate(): Promise<string[]> {
    const applied = await this.#db.migrate();
    await this.tenants.recordUnplaced();
    return applied;
  }

  async version(): Promise<bigint> {
    return this.#db.version();
  }

  async close(): Promise<void> {
    await this.#db.close();
  }
}
