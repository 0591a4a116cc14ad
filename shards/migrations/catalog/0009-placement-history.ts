import type { Migration } from '../migration.js';

/**
 * Placement history (issue 18): on which shard each tenant lived from when to when, so a
 * backup or point-in-time restore of one tenant can find the shard it was on at a moment,
 * after any number of moves. One open row (`to_at` NULL) per placed tenant; a cutover
 * closes it and opens the next at the same instant, an erase closes it.
 *
 * The rows for tenants that exist already are not written here: most tenants are placed by
 * the ring, which only the gateway computes (`src/placement/`, never imported from here),
 * so `Catalog.migrate()` records them right after this runs (`TenantStore.recordUnplaced`).
 */
export const catalog0009: Migration = {
  name: '0009-placement-history',
  async up(sequelize) {
    await sequelize.query(`
      CREATE TABLE tenant_placements (
        tenant_id  text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
        shard_id   text NOT NULL REFERENCES shards (id),
        from_at    timestamptz NOT NULL,
        to_at      timestamptz,
        PRIMARY KEY (tenant_id, from_at),
        CHECK (to_at >= from_at)
      );
      -- "shard of tenant X at T" is the last row of X from at or before T (then to_at > T, or
      -- open): a backward scan of the primary key, which needs no index of its own. This one
      -- keeps a tenant on one shard at a time, and finds the row a cutover or erase closes.
      CREATE UNIQUE INDEX tenant_placements_open ON tenant_placements (tenant_id) WHERE to_at IS NULL;
    `);
  },
  async down(sequelize) {
    await sequelize.query('DROP TABLE tenant_placements');
  },
};
