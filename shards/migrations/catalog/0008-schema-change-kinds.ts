import type { Migration } from '../migration.js';

/**
 * A schema change is either an operator's DDL statement or a rollout of the project's own
 * shard migrations (issue 17: one engine for both); the kind says which, so the log reads
 * right and a shard added later replays each the right way.
 */
export const catalog0008: Migration = {
  name: '0008-schema-change-kinds',
  async up(sequelize) {
    await sequelize.query(`
      ALTER TABLE schema_changes ADD COLUMN kind text NOT NULL DEFAULT 'ddl' CHECK (kind IN ('ddl', 'migrations'));
    `);
  },
  async down(sequelize) {
    await sequelize.query('ALTER TABLE schema_changes DROP COLUMN kind');
  },
};
