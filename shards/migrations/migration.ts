import type { Sequelize } from 'sequelize';

/**
 * One schema migration of a shard or of the catalog. Declared here, beside the
 * migrations, so they depend on nothing of the gateway's: `src/schema/` runs them.
 */
export interface Migration {
  readonly name: string;
  up(sequelize: Sequelize): Promise<void>;
  down?(sequelize: Sequelize): Promise<void>;
}
