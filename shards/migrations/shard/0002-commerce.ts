import type { Migration } from '../migration.js';

/**
 * Products, orders, payments, sessions and idempotency keys. As everywhere on a shard:
 * tenant_id leads every primary key, foreign key and index; ids are app-made UUID v7.
 */
export const shard0002: Migration = {
  name: '0002-commerce',
  async up(sequelize) {
    await sequelize.query(`
      -- GIN indexes led by tenant_id need the btree operator classes for text
      CREATE EXTENSION IF NOT EXISTS btree_gin;

      ALTER TABLE users ADD COLUMN tax_id text; -- AES-256-GCM ciphertext, never plaintext

      CREATE TABLE sessions (
        tenant_id   text NOT NULL,
        id          uuid NOT NULL,
        user_id     uuid NOT NULL,
        token_hash  text NOT NULL,
        expires_at  timestamptz NOT NULL,
        created_at  timestamptz NOT NULL,
        updated_at  timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, id),
        FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
      );
      CREATE INDEX sessions_tenant_user ON sessions (tenant_id, user_id);

      CREATE TABLE products (
        tenant_id    text NOT NULL,
        id           uuid NOT NULL,
        name         text NOT NULL,
        description  text NOT NULL DEFAULT '',
        price        numeric(12, 2) NOT NULL CHECK (price >= 0),
        stock        integer NOT NULL DEFAULT 0 CHECK (stock >= 0),
        category_id  text,
        is_active    boolean NOT NULL DEFAULT true,
        attributes   hstore NOT NULL DEFAULT ''::hstore,
        metadata     jsonb NOT NULL DEFAULT '{}'::jsonb,
        search       tsvector GENERATED ALWAYS AS (
                       setweight(to_tsvector('english', name), 'A') || setweight(to_tsvector('english', description), 'B')
                     ) STORED,
        version      integer NOT NULL DEFAULT 0,
        created_at   timestamptz NOT NULL,
        updated_at   timestamptz NOT NULL,
        deleted_at   timestamptz,
        PRIMARY KEY (tenant_id, id)
      );
      -- composite: category pages
      CREATE INDEX products_tenant_category ON products (tenant_id, category_id, created_at, id) WHERE deleted_at IS NULL;
      -- partial: the storefront lists only active, live products
      CREATE INDEX products_tenant_active ON products (tenant_id, created_at, id) WHERE is_active AND deleted_at IS NULL;
      -- expression: case-insensitive name lookups and sorting
      CREATE INDEX products_tenant_lower_name ON products (tenant_id, lower(name), id) WHERE deleted_at IS NULL;
      -- GIN: full-text search, scoped by tenant inside the index
      CREATE INDEX products_tenant_search ON products USING gin (tenant_id, search) WHERE deleted_at IS NULL;
      CREATE INDEX products_tenant_created ON products (tenant_id, created_at, id);

      CREATE TABLE orders (
        tenant_id        text NOT NULL,
        id               uuid NOT NULL,
        customer_id      uuid NOT NULL,
        status           text NOT NULL CHECK (status IN ('pending', 'confirmed', 'cancelled')),
        total            numeric(14, 2) NOT NULL CHECK (total >= 0),
        version          integer NOT NULL DEFAULT 0,
        created_at       timestamptz NOT NULL,
        updated_at       timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, id),
        FOREIGN KEY (tenant_id, customer_id) REFERENCES users (tenant_id, id)
      );
      CREATE INDEX orders_tenant_customer ON orders (tenant_id, customer_id, created_at);
      CREATE INDEX orders_tenant_status ON orders (tenant_id, status, created_at, id);
      CREATE INDEX orders_tenant_created ON orders (tenant_id, created_at, id);

      CREATE TABLE order_items (
        tenant_id   text NOT NULL,
        id          uuid NOT NULL,
        order_id    uuid NOT NULL,
        product_id  uuid NOT NULL,
        quantity    integer NOT NULL CHECK (quantity > 0),
        unit_price  numeric(12, 2) NOT NULL,
        line_total  numeric(14, 2) NOT NULL,
        created_at  timestamptz NOT NULL,
        updated_at  timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, id),
        FOREIGN KEY (tenant_id, order_id) REFERENCES orders (tenant_id, id) ON DELETE CASCADE,
        FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id)
      );
      CREATE INDEX order_items_tenant_order ON order_items (tenant_id, order_id);
      CREATE INDEX order_items_tenant_product ON order_items (tenant_id, product_id);

      CREATE TABLE payments (
        tenant_id   text NOT NULL,
        id          uuid NOT NULL,
        order_id    uuid NOT NULL,
        amount      numeric(14, 2) NOT NULL CHECK (amount >= 0),
        status      text NOT NULL CHECK (status IN ('captured', 'failed')),
        method      text NOT NULL,
        created_at  timestamptz NOT NULL,
        updated_at  timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, id),
        FOREIGN KEY (tenant_id, order_id) REFERENCES orders (tenant_id, id) ON DELETE CASCADE
      );
      CREATE UNIQUE INDEX payments_tenant_order_captured ON payments (tenant_id, order_id) WHERE status = 'captured';

      -- the first response to an Idempotency-Key, kept 24 h
      CREATE TABLE idempotency_keys (
        tenant_id     text NOT NULL,
        key           text NOT NULL,
        request_hash  text NOT NULL,
        status_code   integer NOT NULL,
        response      jsonb NOT NULL,
        created_at    timestamptz NOT NULL DEFAULT now(),
        expires_at    timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, key)
      );
      CREATE INDEX idempotency_keys_tenant_expires ON idempotency_keys (tenant_id, expires_at);
    `);
  },
  async down(sequelize) {
    await sequelize.query('DROP TABLE idempotency_keys, payments, order_items, orders, products, sessions; ALTER TABLE users DROP COLUMN tax_id');
  },
};
