import { expect } from 'chai';
import { checksumSql, createPublicationSql, createSubscriptionSql, fkOrder, replicationName, type TenantTable } from '../../src/rebalance/shard-sql/shard-admin-sql.js';

const table = (name: string, parents: string[] = []): TenantTable => ({ name, columns: ['tenant_id', 'id', 'name'], key: ['tenant_id', 'id'], parents });

describe('shard admin SQL', () => {
  it('names replication objects from the move id, and refuses anything else', () => {
    expect(replicationName('01a215ec-c369-73b5-bc39-254bab6f111b')).to.equal('sg_move_01a215ecc36973b5bc39254bab6f111b');
    expect(() => replicationName("x'; DROP TABLE users; --")).to.throw();
  });

  it('quotes tenant ids as literals in the row filter, and never publishes TRUNCATE', () => {
    const sql = createPublicationSql('sg_move_1', [table('users'), table('order items')], "acme.eu:1-a_b'); DROP TABLE users; --");
    expect(sql).to.equal(
      `CREATE PUBLICATION "sg_move_1" FOR TABLE "users" WHERE (tenant_id = 'acme.eu:1-a_b''); DROP TABLE users; --'), ` +
        `"order items" WHERE (tenant_id = 'acme.eu:1-a_b''); DROP TABLE users; --') WITH (publish = 'insert, update, delete', publish_via_partition_root = true)`,
    );
    expect(() => createPublicationSql('p', [], 't')).to.throw();
  });

  it('quotes the connection string of the source', () => {
    expect(createSubscriptionSql('sg_move_1', "postgres://u:p'w@h/db")).to.contain(`CONNECTION 'postgres://u:p''w@h/db'`);
  });

  it('checksums rows less their generated columns, with the hash change tracking uses, bound to the tenant', () => {
    const sql = checksumSql({ name: 'products', columns: ['tenant_id', 'id', 'price'], key: ['tenant_id', 'id'], parents: [], generated: ["se'arch"] });
    expect(sql).to.contain(`public.shardgate_row_hash(to_jsonb(t) - ARRAY['se''arch']::text[])`).and.contain('FROM "products" t WHERE tenant_id = $1');
    expect(checksumSql({ name: 'users', columns: ['tenant_id', 'id'], key: ['tenant_id', 'id'], parents: [] })).to.contain('to_jsonb(t) - ARRAY[]::text[]');
  });

  it('orders tables parents first (insert) and reports cycles', () => {
    const order = fkOrder([table('order_items', ['orders', 'products']), table('payments', ['orders']), table('orders', ['users']), table('products'), table('users'), table('audit_log')]);
    const pos = (n: string) => order.findIndex((t) => t.name === n);
    expect(pos('users')).to.be.lessThan(pos('orders'));
    expect(pos('orders')).to.be.lessThan(pos('order_items'));
    expect(pos('products')).to.be.lessThan(pos('order_items'));
    expect(pos('orders')).to.be.lessThan(pos('payments'));
    expect(order).to.have.length(6);
    expect(fkOrder([table('a', ['a'])]).map((t) => t.name), 'self-references are fine').to.deep.equal(['a']);
    expect(() => fkOrder([table('a', ['b']), table('b', ['a'])])).to.throw(/cycle/);
  });
});

describe('withPassword (config-file URLs and PGPASSWORD)', () => {
  it('fills in a missing password, keeps an existing one, and leaves URLs alone without one', async () => {
    const { withPassword } = await import('../../src/config/load-config.js');
    expect(withPassword('postgres://app@shard-1-rw:5432/shardgate', 's3cr:t')).to.equal('postgres://app:s3cr%3At@shard-1-rw:5432/shardgate');
    expect(withPassword('postgres://app:own@h/db', 'other')).to.equal('postgres://app:own@h/db');
    expect(withPassword('postgres://app@h/db', undefined)).to.equal('postgres://app@h/db');
  });
});
