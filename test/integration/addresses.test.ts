import { expect } from 'chai';
import { TestGateway, TestTenant, sql, sqlSession, testCluster, type HttpResult, type Json } from '../support/test-cluster.js';

const strong = { 'x-consistency': 'strong' };
const berlin = { line1: 'Unter den Linden 1', city: 'Berlin', postalCode: '10117', country: 'DE' };
const paris = { line1: '1 Rue de Rivoli', line2: 'Bâtiment B', city: 'Paris', region: 'Île-de-France', postalCode: '75001', country: 'FR' };
const whole = (a: Json) => ({ line2: null, region: null, ...a });

// An address is a value object: one type, one validator, stored as prefixed columns of its
// owner's row (users.address_*, orders.shipping_* and billing_*), read and written whole.
describe('addresses: a value object embedded in users and orders', function () {
  this.timeout(60_000);
  let gw: TestGateway;
  let tenant: TestTenant;
  before(async () => {
    gw = await TestGateway.start();
    tenant = await gw.createTenant('addr');
  });
  after(async () => {
    await gw?.stop();
  });

  const primaryOf = (t: TestTenant) => testCluster().shards.find((s) => s.id === t.shard)!.admin.primary;
  const userColumns = async (id: string) =>
    (await sql<Json>(primaryOf(tenant), `SELECT address_line1, address_line2, address_city, address_region, address_postal_code, address_country FROM users WHERE tenant_id = $1 AND id = $2`, [tenant.id, id]))[0]!;
  const patch = (id: string, body: Json): Promise<HttpResult> => tenant.request('PATCH', `/v1/users/${id}`, { body });

  it('stores a user address as columns of the user row and reads it back whole', async () => {
    const created = await tenant.createUser({ address: paris });
    expect(created.status, created.text).to.equal(201);
    expect(created.body.address).to.deep.equal(paris);
    expect(await userColumns(created.body.id as string)).to.deep.equal({
      address_line1: '1 Rue de Rivoli', address_line2: 'Bâtiment B', address_city: 'Paris', address_region: 'Île-de-France', address_postal_code: '75001', address_country: 'FR',
    });
    const got = await tenant.request('GET', `/v1/users/${created.body.id as string}`, { headers: strong });
    expect(got.body.address).to.deep.equal(paris);

    const none = await tenant.createUser();
    expect(none.body.address).to.equal(null);
  });

  it('refuses a bad part with a 400 naming it, and stores nothing', async () => {
    const cases: Array<[Json | string, string]> = [
      [{ ...berlin, postalCode: undefined }, 'address.postalCode'],
      [{ ...berlin, country: 'de' }, 'address.country'],
      [{ ...berlin, country: 'XX' }, 'address.country'],
      [{ ...berlin, city: '   ' }, 'address.city'],
      [{ ...berlin, line1: 'x'.repeat(201) }, 'address.line1'],
      [{ ...berlin, street: 'Main St' }, 'address.street'],
      [{ ...berlin, line2: 7 }, 'address.line2'],
      ['Berlin', 'address'],
    ];
    for (const [address, field] of cases) {
      const res = await tenant.createUser({ address });
      expect([res.status, res.body.field], `${JSON.stringify(address)}: ${res.text}`).to.deep.equal([400, field]);
    }
  });

  it('replaces the whole address on PATCH: a part alone is refused, a new one drops the old parts, null clears it', async () => {
    const created = await tenant.createUser({ address: paris });
    const id = created.body.id as string;

    const partial = await patch(id, { address: { city: 'Lyon' } });
    expect([partial.status, partial.body.field], partial.text).to.deep.equal([400, 'address.line1']);
    expect((await userColumns(id)).address_city).to.equal('Paris');

    const moved = await patch(id, { address: berlin });
    expect(moved.status, moved.text).to.equal(200);
    expect(moved.body.address).to.deep.equal(whole(berlin));
    expect(await userColumns(id)).to.include({ address_line2: null, address_region: null, address_city: 'Berlin' });

    // another field alone leaves the address as it is
    const renamed = await patch(id, { metadata: { note: 'kept' } });
    expect(renamed.body.address).to.deep.equal(whole(berlin));

    const cleared = await patch(id, { address: null });
    expect(cleared.status, cleared.text).to.equal(200);
    expect(cleared.body.address).to.equal(null);
    expect(Object.values(await userColumns(id)).every((v) => v === null)).to.equal(true);
  });

  it('is guarded in the database too: half an address or a bad country is refused by a CHECK', async () => {
    const created = await tenant.createUser({ address: berlin });
    for (const set of ["address_city = NULL", "address_country = 'de'", `address_line1 = repeat('x', 201)`]) {
      let error: unknown;
      try {
        await sql(primaryOf(tenant), `UPDATE users SET ${set} WHERE tenant_id = $1 AND id = $2`, [tenant.id, created.body.id]);
      } catch (err) {
        error = err;
      }
      expect((error as { code?: string } | undefined)?.code, set).to.equal('23514');
    }
  });

  describe('orders', () => {
    let productId: string;
    let customerId: string;
    before(async () => {
      const product = await tenant.request('POST', '/v1/products', { body: { name: 'parcel', price: '5.00', stock: 1000 } });
      productId = product.body.id as string;
      customerId = (await tenant.createUser({ address: berlin })).body.id as string;
    });
    const order = (body: Json = {}) => tenant.request('POST', '/v1/orders', { body: { customerId, items: [{ productId, quantity: 1 }], ...body } });

    it("ships to the customer's address unless told otherwise, and carries both addresses as columns", async () => {
      const defaulted = await order();
      expect(defaulted.status, defaulted.text).to.equal(201);
      expect(defaulted.body.shippingAddress).to.deep.equal(whole(berlin));
      expect(defaulted.body.billingAddress).to.equal(null);

      const explicit = await order({ shippingAddress: paris, billingAddress: berlin });
      expect(explicit.status, explicit.text).to.equal(201);
      expect(explicit.body).to.deep.include({ shippingAddress: paris, billingAddress: whole(berlin) });
      const [row] = await sql<Json>(primaryOf(tenant), 'SELECT shipping_city, shipping_country, billing_city, billing_country FROM orders WHERE tenant_id = $1 AND id = $2', [
        tenant.id,
        explicit.body.id,
      ]);
      expect(row).to.deep.equal({ shipping_city: 'Paris', shipping_country: 'FR', billing_city: 'Berlin', billing_country: 'DE' });
      const got = await tenant.request('GET', `/v1/orders/${explicit.body.id as string}`, { headers: strong });
      expect(got.body).to.deep.include({ shippingAddress: paris, billingAddress: whole(berlin) });

      const bad = await order({ billingAddress: { ...berlin, country: 'Germany' } });
      expect([bad.status, bad.body.field], bad.text).to.deep.equal([400, 'billingAddress.country']);
    });

    it('filters by shipping country on an index', async () => {
      const t = await gw.createTenant('addr-filter');
      const p = (await t.request('POST', '/v1/products', { body: { name: 'box', price: '1.00', stock: 100 } })).body.id as string;
      const c = (await t.createUser({ address: berlin })).body.id as string;
      const ids: Record<string, string[]> = { DE: [], FR: [] };
      for (const [i, address] of [berlin, paris, berlin, paris, paris].entries()) {
        const res = await t.request('POST', '/v1/orders', { body: { customerId: c, items: [{ productId: p, quantity: 1 }], shippingAddress: address } });
        expect(res.status, `order ${i}: ${res.text}`).to.equal(201);
        ids[address.country]!.push(res.body.id as string);
      }
      for (const country of ['DE', 'FR']) {
        const res = await t.request('GET', `/v1/orders?shippingCountry=${country}&pageSize=100`, { headers: strong });
        expect(res.status, res.text).to.equal(200);
        expect((res.body.items as Json[]).map((o) => o.id)).to.deep.equal(ids[country]);
        expect(res.body.total).to.equal(ids[country]!.length);
      }
      const lower = await t.request('GET', '/v1/orders?shippingCountry=de');
      expect([lower.status, lower.body.field]).to.deep.equal([400, 'shippingCountry']);

      // the list's statement shape, planned with sequential scans priced out: the index serves it
      const primary = testCluster().shards.find((s) => s.id === t.shard)!.admin.primary;
      const plan = await sqlSession<{ 'QUERY PLAN': string }>(primary, [
        'SET enable_seqscan = off',
        `EXPLAIN SELECT id FROM orders WHERE tenant_id = '${t.id}' AND shipping_country = 'DE' ORDER BY created_at, id LIMIT 20`,
      ]);
      expect(plan.map((r) => r['QUERY PLAN']).join('\n')).to.include('orders_tenant_shipping_country');
    });
  });
});
