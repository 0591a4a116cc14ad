import type { Migration } from '../migration.js';

/**
 * Each shard's nodes as the privileged role reaches them (moves, migrations, export and
 * import, backups): `{primary, replicas}`, or NULL where the request URLs serve both (a
 * shard recorded before requests had a least-privilege role of their own).
 */
export const catalog0004: Migration = {
  name: '0004-shard-admin-urls',
  async up(sequelize) {
    await sequelize.query('ALTER TABLE shards ADD COLUMN admin jsonb');
  },
  async down(sequelize) {
    await sequelize.query('ALTER TABLE shards DROP COLUMN admin');
  },
};
