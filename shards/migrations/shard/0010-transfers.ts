import type { Migration } from '../migration.js';
import { applyFenceTriggers } from './0003-move-fence.js';
import { tenantPolicySql } from './0004-row-level-security.js';

/**
 * Transfers between tenants (issue 16), the shard's side:
 * - `products.reserved`: stock a saga has taken out of `stock` and not yet confirmed or
 *   released; visible while the saga is open, never negative, never more than was taken.
 * - `transfer_ledger`: one row per step a transfer applied to this tenant (reserve, apply,
 *   confirm, release, reverse for a saga; sale, purchase for two-phase commit), keyed by
 *   transfer and step. A step inserts its row in the same local transaction as its change,
 *   so a step retried after a lost answer finds its row and changes nothing, and a
 *   compensation's row keeps a late forward step from applying after it.
 * Like every tenant table: row-level security in this migration, the move fence, moves.
 */
export const shard0010: Migration = {
  name: '0010-transfers',
  async up(sequelize) {
    await sequelize.query(`
      ALTER TABLE products ADD COLUMN reserved integer NOT NULL DEFAULT 0 CONSTRAINT products_reserved_nonnegative CHECK (reserved >= 0);

      CREATE TABLE transfer_ledger (
        tenant_id    text NOT NULL,
        transfer_id  uuid NOT NULL,
        step         text NOT NULL CHECK (step IN ('reserve', 'apply', 'confirm', 'release', 'reverse', 'sale', 'purchase')),
        partner_id   text NOT NULL,
        -- [{productId, quantity}] as this side applied them (signed: what stock gained)
        items        jsonb NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, transfer_id, step)
      );
      ALTER TABLE transfer_ledger ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
      ${tenantPolicySql('transfer_ledger')}
    `);
    await applyFenceTriggers(sequelize);
  },
  async down(sequelize) {
    await sequelize.query('DROP TABLE transfer_ledger; ALTER TABLE products DROP COLUMN reserved;');
  },
};
