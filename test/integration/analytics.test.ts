import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { TestGateway, TestTenant, sql, testCluster, type HttpResult, type Json } from '../support/test-cluster.js';

const strong = { 'x-consistency': 'strong' };

// The seed: written straight into the shard primary (the orders API is not needed), in
// integer cents so the expectations below never touch floating-point money until the end.
interface Customer { readonly id: string; readonly username: string; readonly deleted: boolean }
interface Product { readonly id: string; readonly name: string; readonly categoryId: string | null; readonly cents: number; readonly deleted: boolean }
interface Item { readonly productId: string; readonly quantity: number; readonly unitCents: number }
type Status = 'pending' | 'confirmed' | 'cancelled';
interface Order { readonly id: string; readonly customerId: string; readonly status: Status; readonly createdAt: string; readonly items: Item[] }
interface Dataset { readonly customers: Customer[]; readonly products: Product[]; readonly orders: Order[] }

/** a uuid whose leading hex digits are fixed, to make id tie-breaks observable */
const idWith = (prefix = '') => prefix + randomUUID().slice(prefix.length);
const money = (cents: number) => `${Math.trunc(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
const lineCents = (i: Item) => i.quantity * i.unitCents;
const orderCents = (o: Order) => o.items.reduce((sum, i) => sum + lineCents(i), 0);
const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const monthKey = (d: Date) => `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;

function buildDataset(now: Date) {
  const customer = (username: string, prefix = '', deleted = false): Customer => ({ id: idWith(prefix), username, deleted });
  const c = {
    alice: customer('alice'),
    bob: customer('bob'),
    // equal revenue: the lower id wins, though inserted second and named later
    tieHigh: customer('aaa-tie', 'ff'),
    tieLow: customer('zzz-tie', '00'),
    zed: customer('zed'), // only pending and cancelled orders
    zero: customer('zero'), // one confirmed order worth 0.00
    ghost: customer('ghost', '', true), // soft-deleted, with confirmed orders
  };
  const product = (name: string, categoryId: string | null, cents: number, prefix = '', deleted = false): Product => ({ id: idWith(prefix), name, categoryId, cents, deleted });
  const p = {
    hammer: product('Hammer', 'tools', 2500),
    saw: product('Saw', 'tools', 4000),
    drill: product('Drill', 'tools', 12000),
    kite: product('Kite', 'toys', 1500),
    ball: product('Ball', 'toys', 750),
    mystery: product('Mystery box', null, 1234),
    freebie: product('Freebie', null, 0),
    unsold: product('Unsold', 'toys', 999, 'ee'),
    unsold2: product('Unsold too', 'toys', 999, '11'),
    gone: product('Discontinued', 'tools', 3333, '', true),
  };
  const item = (prod: Product, quantity: number, unitCents = prod.cents): Item => ({ productId: prod.id, quantity, unitCents });
  const order = (who: Customer, status: Status, createdAt: string, items: Item[]): Order => ({ id: idWith(), customerId: who.id, status, createdAt, items });
  const pending = order(c.zed, 'pending', '2024-03-10T12:00:00Z', [item(p.drill, 5)]);
  const orders = [
    order(c.alice, 'confirmed', '2022-12-15T10:00:00Z', [item(p.hammer, 2)]),
    order(c.bob, 'confirmed', '2023-01-10T09:00:00Z', [item(p.kite, 1)]),
    order(c.alice, 'confirmed', '2023-03-05T09:00:00Z', [item(p.drill, 1)]),
    order(c.tieHigh, 'confirmed', '2023-03-20T09:00:00Z', [item(p.saw, 3), item(p.kite, 2)]),
    order(c.tieLow, 'confirmed', '2023-07-04T09:00:00Z', [item(p.ball, 4)]),
    order(c.tieLow, 'confirmed', '2023-11-11T09:00:00Z', [item(p.drill, 1)]),
    order(c.zed, 'cancelled', '2023-12-20T09:00:00Z', [item(p.saw, 10)]),
    order(c.ghost, 'confirmed', '2023-12-31T23:59:59.999Z', [item(p.gone, 2)]),
    // 21:30 on New Year's Eve at UTC-2 is already January in UTC
    order(c.alice, 'confirmed', '2023-12-31T23:30:00-02:00', [item(p.hammer, 3)]),
    order(c.alice, 'cancelled', '2024-01-15T09:00:00Z', [item(p.drill, 2)]),
    order(c.bob, 'confirmed', '2024-01-31T23:59:59Z', [item(p.mystery, 1)]),
    order(c.bob, 'confirmed', '2024-02-01T00:00:00Z', [item(p.saw, 2)]),
    order(c.zero, 'confirmed', '2024-02-14T09:00:00Z', [item(p.freebie, 5)]),
    pending, // March 2024 stays a zero month
    order(c.alice, 'confirmed', '2024-04-02T09:00:00Z', [item(p.hammer, 2), item(p.ball, 2)]),
    order(c.bob, 'pending', '2024-05-01T09:00:00Z', [item(p.unsold, 3)]),
    order(c.bob, 'confirmed', '2024-06-30T23:00:00Z', [item(p.kite, 1, 1499)]), // sold below list price
    order(c.ghost, 'confirmed', '2024-08-08T08:00:00Z', [item(p.mystery, 2)]),
    order(c.alice, 'confirmed', now.toISOString(), [item(p.hammer, 1)]),
  ];
  const data: Dataset = { customers: Object.values(c), products: Object.values(p), orders };
  return { data, c, p, pendingOrderId: pending.id };
}

/**
 * Another tenant on the same shard reusing the same customer and product ids (ids are
 * unique per tenant only) and even one order id, with confirmed orders everywhere a leak
 * would show: months our tenant has none, our pending order's id, our products.
 */
function intruderDataset(ours: Dataset, pendingOrderId: string): Dataset {
  const [first, second] = ours.customers;
  const product = (i: number) => ours.products[i % ours.products.length]!;
  const confirmed = (id: string, customerId: string, createdAt: string, productIndex: number, quantity: number): Order => ({
    id, customerId, status: 'confirmed', createdAt, items: [{ productId: product(productIndex).id, quantity, unitCents: 99_999 }],
  });
  return {
    customers: ours.customers.map((x) => ({ ...x, deleted: false })),
    products: ours.products.map((x) => ({ ...x, deleted: false })),
    orders: [
      confirmed(pendingOrderId, first!.id, '2024-03-10T12:00:00Z', 2, 100),
      confirmed(idWith(), second!.id, '2023-12-05T00:00:00Z', 0, 7),
      confirmed(idWith(), first!.id, '2024-01-01T00:00:00Z', 6, 3),
      confirmed(idWith(), second!.id, '2024-05-05T00:00:00Z', 8, 1),
    ],
  };
}

async function insert(url: string, table: string, rows: Array<Record<string, unknown>>): Promise<void> {
  if (rows.length === 0) return;
  const columns = Object.keys(rows[0]!);
  const params: unknown[] = [];
  const tuples = rows.map((row) => `(${columns.map((col) => (params.push(row[col]), `$${params.length}`)).join(', ')})`);
  await sql(url, `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${tuples.join(', ')}`, params);
}

async function load(url: string, tenantId: string, data: Dataset): Promise<void> {
  const stamp = '2022-01-01T00:00:00Z';
  const deletedAt = (deleted: boolean) => (deleted ? '2024-09-01T00:00:00Z' : null);
  await insert(url, 'users', data.customers.map((x) => ({
    tenant_id: tenantId, id: x.id, username: x.username, email: `${x.username}@example.com`, password_hash: 'not-a-real-hash',
    created_at: stamp, updated_at: stamp, deleted_at: deletedAt(x.deleted),
  })));
  await insert(url, 'products', data.products.map((x) => ({
    tenant_id: tenantId, id: x.id, name: x.name, price: money(x.cents), stock: 100, category_id: x.categoryId,
    created_at: stamp, updated_at: stamp, deleted_at: deletedAt(x.deleted),
  })));
  await insert(url, 'orders', data.orders.map((o) => ({
    tenant_id: tenantId, id: o.id, customer_id: o.customerId, status: o.status, total: money(orderCents(o)), created_at: o.createdAt, updated_at: o.createdAt,
  })));
  await insert(url, 'order_items', data.orders.flatMap((o) => o.items.map((i) => ({
    tenant_id: tenantId, id: idWith(), order_id: o.id, product_id: i.productId, quantity: i.quantity,
    unit_price: money(i.unitCents), line_total: money(lineCents(i)), created_at: o.createdAt, updated_at: o.createdAt,
  }))));
}

// ---- expectations, computed from the seed alone ----

const confirmedOrders = (d: Dataset) => d.orders.filter((o) => o.status === 'confirmed');

function expectedTopCustomers(d: Dataset, limit: number, minOrders = 1): Json[] {
  return d.customers
    .filter((x) => !x.deleted)
    .map((x) => {
      const mine = confirmedOrders(d).filter((o) => o.customerId === x.id);
      return { ...x, orders: mine.length, cents: mine.reduce((sum, o) => sum + orderCents(o), 0) };
    })
    .filter((x) => x.orders >= minOrders && x.cents > 0)
    .sort((a, b) => b.cents - a.cents || byId(a, b))
    .slice(0, limit)
    .map((x) => ({ customerId: x.id, username: x.username, email: `${x.username}@example.com`, orders: x.orders, revenue: x.cents / 100 }));
}

function expectedRevenueByMonth(d: Dataset, year: number): Json[] {
  const perMonth = (key: string) => {
    const mine = confirmedOrders(d).filter((o) => monthKey(new Date(o.createdAt)) === key);
    return { orders: mine.length, cents: mine.reduce((sum, o) => sum + orderCents(o), 0) };
  };
  return Array.from({ length: 12 }, (_, m) => {
    const month = monthKey(new Date(Date.UTC(year, m, 1)));
    const previous = perMonth(monthKey(new Date(Date.UTC(year, m - 1, 1)))); // m - 1 = -1: December of the year before
    const current = perMonth(month);
    return { month, orders: current.orders, revenue: current.cents / 100, previousRevenue: previous.cents / 100, change: (current.cents - previous.cents) / 100 };
  });
}

function expectedProductRanking(d: Dataset, limit: number, categoryId?: string): Json[] {
  const items = confirmedOrders(d).flatMap((o) => o.items);
  const sales = d.products
    .filter((x) => !x.deleted)
    .map((x) => {
      const sold = items.filter((i) => i.productId === x.id);
      return { ...x, units: sold.reduce((s, i) => s + i.quantity, 0), cents: sold.reduce((s, i) => s + lineCents(i), 0) };
    });
  const rankAmong = (x: (typeof sales)[number], peers: typeof sales) => 1 + peers.filter((y) => y.cents > x.cents).length;
  return sales
    .map((x) => ({ ...x, rank: rankAmong(x, sales), categoryRank: rankAmong(x, sales.filter((y) => y.categoryId === x.categoryId)) }))
    .sort((a, b) => b.cents - a.cents || b.units - a.units || byId(a, b))
    .filter((x) => categoryId === undefined || x.categoryId === categoryId)
    .slice(0, limit)
    .map((x) => ({ productId: x.id, name: x.name, categoryId: x.categoryId, unitsSold: x.units, revenue: x.cents / 100, rank: x.rank, categoryRank: x.categoryRank }));
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('tenant API: /v1/analytics', function () {
  this.timeout(60_000);
  let gw: TestGateway;
  let tenant: TestTenant;
  let seed: ReturnType<typeof buildDataset>;
  const primaryOf = (t: TestTenant) => testCluster().shards.find((s) => s.id === t.shard)!.admin.primary;
  const get = async (path: string, headers: Record<string, string> = strong): Promise<HttpResult> => {
    const res = await tenant.request('GET', `/v1/analytics/${path}`, { headers });
    expect(res.status, `${path}: ${res.text}`).to.equal(200);
    return res;
  };

  before(async () => {
    gw = await TestGateway.start();
    tenant = await gw.createTenant('analytics');
    seed = buildDataset(new Date());
    await load(primaryOf(tenant), tenant.id, seed.data);
    await load(primaryOf(tenant), `intruder-${randomUUID()}`, intruderDataset(seed.data, seed.pendingOrderId));
  });
  after(async () => {
    await gw?.stop();
  });

  it('ranks top customers by confirmed revenue, ties by id, hiding soft-deleted and zero-revenue customers', async () => {
    const { c } = seed;
    const all = await get('top-customers?limit=100');
    expect(all.headers.get('x-served-by')).to.equal('primary');
    expect(all.body).to.deep.equal({ limit: 100, minOrders: 1, items: expectedTopCustomers(seed.data, 100) });
    // the seed really holds the cases: hand-checked order and values
    const items = all.body.items as Json[];
    expect(items.map((x) => x.customerId)).to.deep.equal([c.alice.id, c.tieLow.id, c.tieHigh.id, c.bob.id]);
    expect(items[0]).to.deep.include({ orders: 5, revenue: 50 + 120 + 75 + 65 + 25 });
    expect(items[1]).to.deep.include({ orders: 2, revenue: 150 });
    expect(items[2]).to.deep.include({ orders: 1, revenue: 150 });
    expect(items[3]).to.deep.include({ orders: 4, revenue: 122.33 });

    expect((await get('top-customers')).body).to.deep.equal({ limit: 10, minOrders: 1, items: expectedTopCustomers(seed.data, 10) });
    expect((await get('top-customers?limit=2')).body.items).to.deep.equal(expectedTopCustomers(seed.data, 2));
    const repeat = (await get('top-customers?minOrders=2')).body;
    expect(repeat).to.deep.equal({ limit: 10, minOrders: 2, items: expectedTopCustomers(seed.data, 10, 2) });
    expect((repeat.items as Json[]).map((x) => x.customerId)).to.deep.equal([c.alice.id, c.tieLow.id, c.bob.id]);
  });

  it('reports twelve zero-filled UTC months with the previous month’s revenue, across the year boundary', async () => {
    for (const year of [2022, 2023, 2024, 2025]) {
      const res = await get(`revenue-by-month?year=${year}`);
      expect(res.body, String(year)).to.deep.equal({ year, items: expectedRevenueByMonth(seed.data, year) });
    }
    const y2024 = (await get('revenue-by-month?year=2024')).body.items as Json[];
    expect(y2024.map((m) => m.month)).to.deep.equal(Array.from({ length: 12 }, (_, i) => `2024-${String(i + 1).padStart(2, '0')}`));
    expect(y2024[0]).to.deep.equal({ month: '2024-01', orders: 2, revenue: 87.34, previousRevenue: 66.66, change: 20.68 });
    expect(y2024[1]).to.deep.equal({ month: '2024-02', orders: 2, revenue: 80, previousRevenue: 87.34, change: -7.34 });
    expect(y2024[2]).to.deep.equal({ month: '2024-03', orders: 0, revenue: 0, previousRevenue: 80, change: -80 });
    const y2023 = (await get('revenue-by-month?year=2023')).body.items as Json[];
    expect(y2023[0]).to.deep.equal({ month: '2023-01', orders: 1, revenue: 15, previousRevenue: 50, change: -35 });
    expect(y2023[11]).to.deep.equal({ month: '2023-12', orders: 1, revenue: 66.66, previousRevenue: 120, change: -53.34 });

    // the current UTC year unless asked; the seed has an order from just now
    const year = new Date().getUTCFullYear();
    expect((await get('revenue-by-month')).body).to.deep.equal({ year, items: expectedRevenueByMonth(seed.data, year) });
    // both ends of the range, no data
    for (const edge of [1970, 9999]) {
      const items = (await get(`revenue-by-month?year=${edge}`)).body.items as Json[];
      expect(items).to.have.length(12);
      expect(items[0]).to.deep.equal({ month: `${edge}-01`, orders: 0, revenue: 0, previousRevenue: 0, change: 0 });
      expect(items[11]!.month).to.equal(`${edge}-12`);
    }
  });

  it('ranks products by revenue overall and within category, keeping the overall rank under a category filter', async () => {
    const { p } = seed;
    const all = await get('product-ranking?limit=100');
    expect(all.body).to.deep.equal({ limit: 100, categoryId: null, items: expectedProductRanking(seed.data, 100) });
    const items = all.body.items as Json[];
    expect(items.map((x) => x.productId)).to.deep.equal(
      [p.drill, p.hammer, p.saw, p.kite, p.ball, p.mystery, p.freebie, p.unsold2, p.unsold].map((x) => x.id),
    );
    expect(items.map((x) => x.rank)).to.deep.equal([1, 2, 2, 4, 5, 6, 7, 7, 7]);
    expect(items[1]).to.deep.include({ unitsSold: 8, revenue: 200, categoryRank: 2 });
    expect(items[2]).to.deep.include({ unitsSold: 5, revenue: 200, categoryRank: 2 });
    expect(items[3]).to.deep.include({ unitsSold: 4, revenue: 59.99, categoryRank: 1 });
    expect(items[5]).to.deep.include({ categoryId: null, revenue: 37.02, categoryRank: 1 });

    expect((await get('product-ranking')).body).to.deep.equal({ limit: 10, categoryId: null, items: expectedProductRanking(seed.data, 10) });
    expect((await get('product-ranking?limit=3')).body.items).to.deep.equal(expectedProductRanking(seed.data, 3));
    const toys = (await get('product-ranking?categoryId=toys')).body;
    expect(toys).to.deep.equal({ limit: 10, categoryId: 'toys', items: expectedProductRanking(seed.data, 10, 'toys') });
    expect((toys.items as Json[]).map((x) => [x.rank, x.categoryRank])).to.deep.equal([[4, 1], [5, 2], [7, 3], [7, 3]]);
    expect((await get('product-ranking?categoryId=nothing-here')).body.items).to.deep.equal([]);
  });

  it('sees nothing of other tenants: a fresh tenant gets empty rankings and zero months', async () => {
    const empty = await gw.createTenant('analytics-empty');
    const read = async (path: string) => {
      const res = await empty.request('GET', `/v1/analytics/${path}`, { headers: strong });
      expect(res.status, res.text).to.equal(200);
      return res.body;
    };
    expect((await read('top-customers')).items).to.deep.equal([]);
    expect((await read('product-ranking')).items).to.deep.equal([]);
    const months = (await read('revenue-by-month?year=2024')).items as Json[];
    expect(months.every((m) => m.orders === 0 && m.revenue === 0 && m.previousRevenue === 0 && m.change === 0)).to.equal(true);
  });

  it('reads from a replica once it has caught up, and honours a consistency token', async () => {
    const expected = { limit: 10, minOrders: 1, items: expectedTopCustomers(seed.data, 10) };
    await eventually('a replica serving the seeded rows', async () => {
      const res = await tenant.request('GET', '/v1/analytics/top-customers');
      const fromReplica = res.headers.get('x-served-by')?.startsWith('replica:') ?? false;
      return fromReplica && JSON.stringify(res.body) === JSON.stringify(expected) ? true : undefined;
    });
    // a write after the seed: its token orders every later read after the seeded rows too
    const written = await tenant.createUser();
    expect(written.status).to.equal(201);
    const token = written.headers.get('x-consistency-token')!;
    const res = await tenant.request('GET', '/v1/analytics/revenue-by-month?year=2024', { headers: { 'x-consistency-token': token } });
    expect(res.status).to.equal(200);
    expect(res.body).to.deep.equal({ year: 2024, items: expectedRevenueByMonth(seed.data, 2024) });
  });

  it('rejects bad and unknown parameters with a 400 naming the parameter', async () => {
    const cases: Array<[string, string]> = [
      ['top-customers?limit=0', 'limit'],
      ['top-customers?limit=101', 'limit'],
      ['top-customers?limit=ten', 'limit'],
      ['top-customers?limit=1&limit=2', 'limit'],
      ['top-customers?minOrders=0', 'minOrders'],
      ['top-customers?sort=revenue', 'sort'],
      ['revenue-by-month?year=1969', 'year'],
      ['revenue-by-month?year=10000', 'year'],
      ['revenue-by-month?year=2024.5', 'year'],
      ['revenue-by-month?year=', 'year'],
      ['revenue-by-month?month=3', 'month'],
      ['product-ranking?limit=-1', 'limit'],
      ['product-ranking?categoryId=', 'categoryId'],
      [`product-ranking?categoryId=${'x'.repeat(65)}`, 'categoryId'],
      ['product-ranking?category=toys', 'category'],
    ];
    for (const [path, field] of cases) {
      const res = await tenant.request('GET', `/v1/analytics/${path}`, { headers: strong });
      expect(res.status, path).to.equal(400);
      expect(res.headers.get('content-type'), path).to.match(/^application\/problem\+json/);
      expect(res.body, path).to.include({ code: 'VALIDATION_FAILED', field });
    }
    const anonymous = await fetch(`${gw.gateway.tenantUrl}/v1/analytics/top-customers`);
    expect(anonymous.status).to.equal(401);
  });
});
