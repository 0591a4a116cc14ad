import type { Migration } from '../migration.js';

/**
 * The moves whose source still keeps the tenant's tombstone fence (issue 19): every job
 * runner scan (each `moves.leaseMs`) asks for those finished longer ago than the write
 * lease plus its margin. A partial index holds only them, so the scan stays a probe of a
 * few rows however many moves the catalog remembers.
 */
export const catalog0011: Migration = {
  name: '0011-tombstone-index',
  async up(sequelize) {
    await sequelize.query(`CREATE INDEX tenant_moves_tombstones ON tenant_moves (finished_at) WHERE stage = 'done' AND detail ->> 'tombstone' = 'kept'`);
  },
  async down(sequelize) {
    await sequelize.query('DROP INDEX tenant_moves_tombstones');
  },
};
