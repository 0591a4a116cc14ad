import type { Migration } from '../migration.js';

/**
 * Several API keys per tenant, each revocable, with its last use. The key a tenant was
 * created with becomes its first row here. `keys_version` is bumped whenever a key stops
 * working (revoked, or its tenant suspended): every gateway polls it as the fallback to the
 * Redis broadcast, and drops its cached keys when it moves.
 */
export const catalog0003: Migration = {
  name: '0003-api-keys',
  async up(sequelize) {
    await sequelize.query(`
      CREATE TABLE api_keys (
        id            text PRIMARY KEY,
        tenant_id     text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
        key_hash      text NOT NULL,
        created_at    timestamptz NOT NULL DEFAULT now(),
        last_used_at  timestamptz,
        revoked_at    timestamptz
      );
      CREATE UNIQUE INDEX api_keys_key_hash ON api_keys (key_hash);
      CREATE INDEX api_keys_tenant_id ON api_keys (tenant_id, created_at);

      INSERT INTO api_keys (id, tenant_id, key_hash, created_at)
      SELECT 'key_' || substr(md5(api_key_hash), 1, 16), id, api_key_hash, created_at FROM tenants;

      -- keys live in api_keys from now on
      ALTER TABLE tenants ALTER COLUMN api_key_hash DROP NOT NULL;

      ALTER TABLE catalog_meta ADD COLUMN keys_version bigint NOT NULL DEFAULT 1;
    `);
  },
  async down(sequelize) {
    await sequelize.query('ALTER TABLE catalog_meta DROP COLUMN keys_version; DROP TABLE api_keys');
  },
};
