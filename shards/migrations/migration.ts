/**
 * What a migration runs its SQL through: a Sequelize instance satisfies it, and so does the
 * shard runner's handle that binds every statement to the one transaction the migration
 * runs in (so a lock it cannot get in time rolls the whole migration back, to be retried).
 */
export interface MigrationDb {
  query(sql: string, options?: { readonly bind?: unknown[] }): Promise<[unknown[], unknown]>;
}

/**
 * One schema migration of a shard or of the catalog. Declared here, beside the
 * migrations, so they depend on nothing of the gateway's: `src/schema/` runs them.
 */
export interface Migration {
  readonly name: string;
  up(db: MigrationDb): Promise<void>;
  down?(db: MigrationDb): Promise<void>;
}
