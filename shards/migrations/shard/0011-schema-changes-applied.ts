import type { Migration } from '../migration.js';

/**
 * The online schema changes a shard has applied (issue 17), recorded on the shard itself
 * in the same order as the catalog's `schema_changes.seq`: what a tenant move compares
 * between its two shards, and what a shard added later is missing. Not a tenant table:
 * row-level security on, with no policy, keeps the request role out.
 */
export const shard0011: Migration = {
  name: '0011-schema-changes-applied',
  async up(sequelize) {
    await sequelize.query(`
      CREATE TABLE shardgate_schema_changes (
        id          uuid PRIMARY KEY,
        seq         bigint NOT NULL UNIQUE,
        ddl         text NOT NULL,
        applied_at  timestamptz NOT NULL DEFAULT now()
      );
      -- no policy and no grant: the request role reads nothing here; only the owner (the
      -- privileged role that migrates and rolls out changes) does, as RLS is not forced on it
      ALTER TABLE shardgate_schema_changes ENABLE ROW LEVEL SECURITY;
    `);
  },
  async down(sequelize) {
    await sequelize.query('DROP TABLE shardgate_schema_changes');
  },
};
