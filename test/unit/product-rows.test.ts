import { expect } from 'chai';
import { Sequelize } from 'sequelize';
import { defineAuditLog } from '../../src/models/audit-log.js';
import { defineProduct } from '../../src/models/product.js';
import { PRODUCT_ROW_COLUMNS, PRODUCT_ROW_SQL, rowToDto, type ProductRow } from '../../src/data/products/product-rows.js';

describe('product rows (raw SQL) in step with the Product model', () => {
  // never connects: defining models needs only the dialect
  const sequelize = new Sequelize('postgres://nobody@127.0.0.1:1/none', { dialect: 'postgres', logging: false });
  const Product = defineProduct(sequelize, { auditLog: defineAuditLog(sequelize) });
  after(() => sequelize.close());

  it('selects every column of the model but the tenant key and the soft-delete marker', () => {
    const columns = Object.values(Product.getAttributes()).map((a) => a.field ?? '');
    expect(columns).to.include.members(['tenant_id', 'deleted_at']);
    expect([...PRODUCT_ROW_COLUMNS].sort()).to.deep.equal(columns.filter((c) => c !== 'tenant_id' && c !== 'deleted_at').sort());
  });

  it('names every selected expression after its column', () => {
    for (const column of PRODUCT_ROW_COLUMNS) expect(PRODUCT_ROW_SQL).to.match(new RegExp(`(^|, )(${column}|\\S+ AS ${column})(, |$)`));
  });

  it('maps a row to the API shape: exact price as a number, ISO timestamps, null category', () => {
    const row: ProductRow = {
      id: '0190a4b8-0000-7000-8000-000000000001', name: 'n', description: '', price: '19.90', stock: 3, reserved: 1, category_id: null, is_active: true,
      attributes: { a: 'b' }, metadata: { m: 1 }, version: 2, created_at: new Date('2026-01-02T03:04:05.678Z'), updated_at: '2026-01-02T03:04:06.000Z',
    };
    expect(rowToDto(row)).to.deep.equal({
      id: row.id, name: 'n', description: '', price: 19.9, stock: 3, reserved: 1, categoryId: null, isActive: true,
      attributes: { a: 'b' }, metadata: { m: 1 }, version: 2, createdAt: '2026-01-02T03:04:05.678Z', updatedAt: '2026-01-02T03:04:06.000Z',
    });
  });
});
