import type { Migration } from '../migration.js';

/**
 * `GET /v1/audit` reads a tenant's whole trail oldest first, keyset-paged on
 * (created_at, id): this index makes each page one range scan. A trail filtered to one
 * record keeps using audit_log_tenant_record.
 */
export const shard0005: Migration = {
  name: '0005-audit-trail-index',
  async up(sequelize) {
    await sequelize.query('CREATE INDEX IF NOT EXISTS audit_log_tenant_created ON audit_log (tenant_id, created_at, id)');
  },
  async down(sequelize) {
    await sequelize.query('DROP INDEX IF EXISTS audit_log_tenant_created');
  },
};
