import type { Migration } from '../migration.js';

const PARTS = ['line1', 'line2', 'city', 'region', 'postal_code', 'country'];
const REQUIRED = ['line1', 'city', 'postal_code', 'country'];
/** the gateway's limit on each part (src/models/values/address.ts), held here too */
const PART_MAX = 200;

/**
 * An address embedded under `prefix`: its columns, and a CHECK that what is stored is a
 * whole address or none, with a country code and parts within bounds, so not even a raw
 * statement or an import stores half an address. Adding nullable columns without a
 * default and a CHECK that every existing row (all nulls) passes is a catalog-only change
 * plus one validating scan.
 */
function embedAddress(table: string, prefix: string): string {
  const c = (p: string) => `${prefix}_${p}`;
  const none = PARTS.map((p) => `${c(p)} IS NULL`).join(' AND ');
  const whole = [
    ...REQUIRED.map((p) => `${c(p)} IS NOT NULL`),
    `${c('country')} ~ '^[A-Z]{2}$'`,
    ...PARTS.map((p) => `coalesce(length(${c(p)}), 0) <= ${PART_MAX}`),
  ].join(' AND ');
  return `ALTER TABLE ${table} ${PARTS.map((p) => `ADD COLUMN ${c(p)} text`).join(', ')},
    ADD CONSTRAINT ${table}_${prefix}_whole CHECK ((${none}) OR (${whole}));`;
}

/**
 * Addresses as a value object embedded in their owners: users' `address`, orders'
 * `shipping` and `billing`. Orders filter by shipping country, on an index led by the
 * tenant like every other.
 */
export const shard0006: Migration = {
  name: '0006-addresses',
  async up(sequelize) {
    await sequelize.query(`
      ${embedAddress('users', 'address')}
      ${embedAddress('orders', 'shipping')}
      ${embedAddress('orders', 'billing')}
      CREATE INDEX orders_tenant_shipping_country ON orders (tenant_id, shipping_country, created_at, id) WHERE shipping_country IS NOT NULL;
    `);
  },
  async down(sequelize) {
    const drop = (table: string, prefix: string) => `ALTER TABLE ${table} DROP CONSTRAINT ${table}_${prefix}_whole, ${PARTS.map((p) => `DROP COLUMN ${prefix}_${p}`).join(', ')};`;
    await sequelize.query(`DROP INDEX orders_tenant_shipping_country; ${drop('users', 'address')} ${drop('orders', 'shipping')} ${drop('orders', 'billing')}`);
  },
};
