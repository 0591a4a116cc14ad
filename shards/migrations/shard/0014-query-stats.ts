import type { Migration } from '../migration.js';

/**
 * Statement statistics for `GET /admin/query-stats`: pg_stat_statements in a schema of its
 * own (kept out of `public`, where every table is a tenant table or the fleet's), readable
 * by the gateway's roles. Only where the server ships the extension (the embedded default
 * does not); it counts only where the server preloads it (cluster:up does, and
 * CloudNativePG does once a `pg_stat_statements.*` parameter is set) — elsewhere the
 * endpoint reports the shard as without statistics. Where the operator created the
 * extension already (CloudNativePG, in `public`), this leaves it where it is.
 */
export const shard0014: Migration = {
  name: '0014-query-stats',
  async up(sequelize) {
    await sequelize.query(`
      DO $$
      BEGIN
        IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements') THEN
          CREATE SCHEMA IF NOT EXISTS shardgate_insights;
          GRANT USAGE ON SCHEMA shardgate_insights TO PUBLIC;
          CREATE EXTENSION IF NOT EXISTS pg_stat_statements WITH SCHEMA shardgate_insights;
        END IF;
      END $$;
    `);
  },
  async down(sequelize) {
    await sequelize.query('DROP EXTENSION IF EXISTS pg_stat_statements; DROP SCHEMA IF EXISTS shardgate_insights;');
  },
};
