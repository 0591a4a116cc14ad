import type { Migration } from '../migration.js';

/**
 * Users and the audit trail. Every table leads with tenant_id: in the primary key (so
 * logical replication row filters on tenant_id work for UPDATE/DELETE during moves),
 * and first in every index. Unique constraints on paranoid tables are partial, so a
 * soft-deleted row does not block a new one.
 */
export const shard0001: Migration = {
  name: '0001-users',
  async up(sequelize) {
    await sequelize.query(`
      CREATE EXTENSION IF NOT EXISTS hstore;

      CREATE TABLE users (
        tenant_id      text NOT NULL,
        id             uuid NOT NULL,
        username       text NOT NULL,
        email          text NOT NULL,
        password_hash  text NOT NULL,
        is_active      boolean NOT NULL DEFAULT true,
        metadata       jsonb NOT NULL DEFAULT '{}'::jsonb,
        version        integer NOT NULL DEFAULT 0,
        created_at     timestamptz NOT NULL,
        updated_at     timestamptz NOT NULL,
        deleted_at     timestamptz,
        PRIMARY KEY (tenant_id, id)
      );
      CREATE UNIQUE INDEX users_tenant_username_live ON users (tenant_id, lower(username)) WHERE deleted_at IS NULL;
      CREATE UNIQUE INDEX users_tenant_email_live ON users (tenant_id, lower(email)) WHERE deleted_at IS NULL;
      CREATE INDEX users_tenant_created ON users (tenant_id, created_at, id);

      CREATE TABLE audit_log (
        tenant_id   text NOT NULL,
        id          uuid NOT NULL,
        table_name  text NOT NULL,
        record_id   text NOT NULL,
        action      text NOT NULL CHECK (action IN ('create', 'update', 'delete', 'restore')),
        actor       text,
        old_values  jsonb,
        new_values  jsonb,
        created_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, id)
      );
      CREATE INDEX audit_log_tenant_record ON audit_log (tenant_id, table_name, record_id, created_at);
    `);
  },
  async down(sequelize) {
    await sequelize.query('DROP TABLE audit_log, users');
  },
};
