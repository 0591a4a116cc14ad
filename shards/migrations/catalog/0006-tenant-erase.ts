import type { Migration } from '../migration.js';

/**
 * Tenant erase (`DELETE /admin/tenants/:id`), a saga in the coordinator's log: a tenant is
 * `erasing` while its rows go and `erased` after (the row stays as a tombstone: its id is
 * never handed out again, and `GET /admin/tenants/:id` can say what became of it). An
 * erase is logged with both parties set to the erased tenant.
 */
export const catalog0006: Migration = {
  name: '0006-tenant-erase',
  async up(sequelize) {
    await sequelize.query(`
      ALTER TABLE tenants DROP CONSTRAINT tenants_status_check,
        ADD CONSTRAINT tenants_status_check CHECK (status IN ('active', 'suspended', 'erasing', 'erased'));
      ALTER TABLE transactions DROP CONSTRAINT transactions_kind_check,
        ADD CONSTRAINT transactions_kind_check CHECK (kind IN ('transfer', 'erase'));
      -- what a step did, where it says more than done or failed (rows an erase deleted on a shard)
      ALTER TABLE transaction_steps ADD COLUMN detail jsonb;
    `);
  },
  async down(sequelize) {
    await sequelize.query(`
      ALTER TABLE transaction_steps DROP COLUMN detail;
      ALTER TABLE transactions DROP CONSTRAINT transactions_kind_check, ADD CONSTRAINT transactions_kind_check CHECK (kind IN ('transfer'));
      ALTER TABLE tenants DROP CONSTRAINT tenants_status_check, ADD CONSTRAINT tenants_status_check CHECK (status IN ('active', 'suspended'));
    `);
  },
};
