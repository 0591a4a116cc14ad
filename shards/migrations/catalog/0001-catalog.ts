import type { Migration } from '../migration.js';

/** Control plane: tenants, shards (ring membership), pins, and a version gateways poll. */
export const catalog0001: Migration = {
  name: '0001-catalog',
  async up(sequelize) {
    await sequelize.query(`
      CREATE TABLE tenants (
        id            text PRIMARY KEY,
        name          text NOT NULL,
        status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
        plan          text NOT NULL DEFAULT 'standard',
        api_key_hash  text NOT NULL,
        created_at    timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now()
      );
      CREATE UNIQUE INDEX tenants_api_key_hash ON tenants (api_key_hash);

      -- state: active (in the ring), standby (added, takes no tenants until a rebalance),
      -- draining (tenants moving off), retired (empty, out of the ring)
      CREATE TABLE shards (
        id           text PRIMARY KEY,
        primary_url  text NOT NULL,
        replicas     jsonb NOT NULL DEFAULT '[]',
        weight       integer NOT NULL DEFAULT 100 CHECK (weight > 0),
        state        text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'standby', 'draining', 'retired')),
        created_at   timestamptz NOT NULL DEFAULT now(),
        updated_at   timestamptz NOT NULL DEFAULT now()
      );

      -- a pin overrides the ring for one tenant (moved or isolated tenants)
      CREATE TABLE pins (
        tenant_id   text PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
        shard_id    text NOT NULL REFERENCES shards (id),
        reason      text NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX pins_shard_id ON pins (shard_id);

      -- bumped on every topology or placement change; gateways poll it as the fallback
      -- when the Redis broadcast is missed
      CREATE TABLE catalog_meta (
        singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        version    bigint NOT NULL DEFAULT 1
      );
      INSERT INTO catalog_meta DEFAULT VALUES;
    `);
  },
  async down(sequelize) {
    await sequelize.query('DROP TABLE catalog_meta, pins, shards, tenants');
  },
};
