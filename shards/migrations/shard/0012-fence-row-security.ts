import type { Migration } from '../migration.js';
import { FENCE_ROW_SECURITY_SQL } from './0003-move-fence.js';

/**
 * Row-level security on `tenant_fences` for shards that ran migration 0003 before it
 * enabled it: readable by every session (the fence guard reads it as the writer), written
 * only by the privileged role. A fresh shard has it from 0003 already; this is a no-op there.
 */
export const shard0012: Migration = {
  name: '0012-fence-row-security',
  async up(sequelize) {
    await sequelize.query(FENCE_ROW_SECURITY_SQL);
  },
  async down(sequelize) {
    await sequelize.query('DROP POLICY IF EXISTS fences_readable ON tenant_fences; ALTER TABLE tenant_fences DISABLE ROW LEVEL SECURITY;');
  },
};
