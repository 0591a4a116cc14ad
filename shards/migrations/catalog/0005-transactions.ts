import type { Migration } from '../migration.js';

/**
 * Distributed transactions (issue 16): the coordinator's durable log. A transaction row
 * is written before its first step; its `stage` before each stage's side effects; a
 * two-phase commit's `decision` exactly once (a conditional update), before any COMMIT
 * PREPARED: whoever finds a transaction later — the pod that began it, or another's
 * recovery loop once the lease lapsed — can finish it or undo it from here. Steps are
 * appended as they end (done, failed, waiting), never rewritten: the operator reads every
 * attempt. Partnerships say which tenant may buy from which.
 */
export const catalog0005: Migration = {
  name: '0005-transactions',
  async up(sequelize) {
    await sequelize.query(`
      CREATE TABLE partnerships (
        supplier_id  text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
        buyer_id     text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
        created_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (supplier_id, buyer_id),
        CHECK (supplier_id <> buyer_id)
      );

      CREATE TABLE transactions (
        id               uuid PRIMARY KEY,
        kind             text NOT NULL CHECK (kind IN ('transfer')),
        protocol         text NOT NULL CHECK (protocol IN ('saga', '2pc')),
        state            text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'committed', 'compensated', 'aborted')),
        stage            text NOT NULL,
        decision         text CHECK (decision IN ('commit', 'abort')),
        buyer_id         text NOT NULL,
        supplier_id      text NOT NULL,
        idempotency_key  text,
        request_hash     text,
        params           jsonb NOT NULL,
        -- why it did not commit (INSUFFICIENT_STOCK, …), or the last transient failure while pending
        error            jsonb,
        attempts         integer NOT NULL DEFAULT 0,
        owner            text,
        lease_until      timestamptz,
        created_at       timestamptz NOT NULL DEFAULT now(),
        updated_at       timestamptz NOT NULL DEFAULT now(),
        finished_at      timestamptz
      );
      CREATE UNIQUE INDEX transactions_idempotency ON transactions (buyer_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
      CREATE INDEX transactions_open ON transactions (lease_until NULLS FIRST) WHERE state = 'pending';
      CREATE INDEX transactions_buyer ON transactions (buyer_id, created_at, id);
      CREATE INDEX transactions_supplier ON transactions (supplier_id, created_at, id);
      CREATE INDEX transactions_state ON transactions (state, created_at, id);

      CREATE TABLE transaction_steps (
        transaction_id  uuid NOT NULL REFERENCES transactions (id) ON DELETE CASCADE,
        seq             bigserial,
        shard           text NOT NULL,
        tenant_id       text NOT NULL,
        action          text NOT NULL,
        state           text NOT NULL CHECK (state IN ('done', 'failed', 'waiting')),
        error           text,
        owner           text,
        at              timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (transaction_id, seq)
      );
    `);
  },
  async down(sequelize) {
    await sequelize.query('DROP TABLE transaction_steps, transactions, partnerships');
  },
};
