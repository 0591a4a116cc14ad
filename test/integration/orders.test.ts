import { expect } from 'chai';
import { randomBytes, randomUUID } from 'node:crypto';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { TestGateway, TestTenant, sql, testCluster, type HttpResult, type Json } from '../support/test-cluster.js';
import { spanExporter } from '../support/telemetry.js';
import { OrdersRepository, type OrderFaults } from '../../src/data/orders/orders-repository.js';
import { GatewayError } from '../../src/errors/errors.js';

const strong = { 'x-consistency': 'strong' };

describe('tenant API: /v1/orders', function () {
  this.timeout(120_000);
  let gw: TestGateway;
  before(async () => {
    gw = await TestGateway.start();
  });
  after(async () => {
    await gw?.stop();
  });

  const primaryOf = (t: TestTenant) => testCluster().shards.find((s) => s.id === t.shard)!.admin.primary;

  async function customer(t: TestTenant): Promise<string> {
    const res = await t.createUser();
    expect(res.status, res.text).to.equal(201);
    return res.body.id as string;
  }

  async function product(t: TestTenant, fields: Json = {}): Promise<{ id: string; name: string }> {
    const name = `Widget ${randomUUID().slice(0, 8)}`;
    const res = await t.request('POST', '/v1/products', { body: { name, price: '19.99', stock: 10, ...fields } });
    expect(res.status, res.text).to.equal(201);
    return { id: res.body.id as string, name: res.body.name as string };
  }

  const placeOrder = (t: TestTenant, body: Json, headers: Record<string, string> = {}) => t.request('POST', '/v1/orders', { body, headers });

  async function stockOf(t: TestTenant, id: string): Promise<{ stock: number; version: number }> {
    const [row] = await sql<{ stock: number; version: number }>(primaryOf(t), 'SELECT stock, version FROM products WHERE tenant_id = $1 AND id = $2', [t.id, id]);
    return row!;
  }

  /** Row counts of everything an order writes, to prove a refused order changed nothing. */
  async function footprint(t: TestTenant): Promise<Record<string, string>> {
    const [row] = await sql<Record<string, string>>(
      primaryOf(t),
      `SELECT (SELECT count(*) FROM orders WHERE tenant_id = $1) AS orders,
              (SELECT count(*) FROM order_items WHERE tenant_id = $1) AS items,
              (SELECT count(*) FROM payments WHERE tenant_id = $1) AS payments,
              (SELECT count(*) FROM audit_log WHERE tenant_id = $1) AS audit,
              (SELECT count(*) FROM idempotency_keys WHERE tenant_id = $1) AS keys,
              (SELECT string_agg(id || ':' || stock || ':' || version, ',' ORDER BY id) FROM products WHERE tenant_id = $1) AS stock`,
      [t.id],
    );
    return row!;
  }

  it('places an order: stock reserved, exact totals, payment captured, confirmed, audited, cache dropped', async () => {
    const t = await gw.createTenant();
    const buyer = await customer(t);
    const a = await product(t, { price: '19.99', stock: 10 });
    const b = await product(t, { price: 5.5, stock: 3 });
    // warm the product cache: the order must drop the stale copy after it commits
    await t.request('GET', `/v1/products/${a.id}`);
    expect((await t.request('GET', `/v1/products/${a.id}`)).headers.get('x-cache')).to.equal('hit');

    const res = await placeOrder(t, { customerId: buyer, items: [{ productId: a.id, quantity: 3 }, { productId: b.id, quantity: 2 }] });
    expect(res.status, res.text).to.equal(201);
    expect(res.body).to.include({ customerId: buyer, status: 'confirmed', total: 70.97, version: 1 });
    expect(res.headers.get('etag')).to.equal('"1"');
    expect(res.headers.get('x-consistency-token')).to.be.a('string');
    expect(res.headers.get('location')).to.equal(`/v1/orders/${res.body.id}`);
    expect(res.headers.get('idempotent-replayed')).to.equal(null);
    const items = res.body.items as Json[];
    expect(items.map((i) => [i.productId, i.quantity, i.unitPrice, i.lineTotal])).to.deep.equal([
      [a.id, 3, 19.99, 59.97],
      [b.id, 2, 5.5, 11],
    ]);
    expect(res.body.payment).to.include({ amount: 70.97, status: 'captured', method: 'card' });

    const primary = primaryOf(t);
    expect(await stockOf(t, a.id)).to.deep.equal({ stock: 7, version: 1 });
    expect(await stockOf(t, b.id)).to.deep.equal({ stock: 1, version: 1 });
    const [order] = await sql<{ total: string; status: string; lines: string; paid: string }>(
      primary,
      `SELECT o.total::text AS total, o.status,
              (SELECT string_agg(line_total::text, ',' ORDER BY id) FROM order_items WHERE tenant_id = o.tenant_id AND order_id = o.id) AS lines,
              (SELECT string_agg(amount::text || ' ' || status, ',') FROM payments WHERE tenant_id = o.tenant_id AND order_id = o.id) AS paid
       FROM orders o WHERE tenant_id = $1 AND id = $2`,
      [t.id, res.body.id],
    );
    expect(order).to.deep.equal({ total: '70.97', status: 'confirmed', lines: '59.97,11.00', paid: '70.97 captured' });

    const audit = await sql<{ table_name: string; record_id: string; action: string; old_values: Json | null; actor: string }>(
      primary,
      `SELECT table_name, record_id, action, old_values, actor FROM audit_log
       WHERE tenant_id = $1 AND table_name IN ('orders', 'order_items', 'payments', 'products')
       ORDER BY created_at, id`,
      [t.id],
    );
    const actions = (table: string, id?: unknown) => audit.filter((r) => r.table_name === table && (id === undefined || r.record_id === id)).map((r) => r.action);
    expect(actions('orders', res.body.id)).to.deep.equal(['create', 'update']);
    for (const item of items) expect(actions('order_items', item.id)).to.deep.equal(['create']);
    expect(actions('payments', (res.body.payment as Json).id)).to.deep.equal(['create']);
    expect(actions('products', a.id)).to.deep.equal(['create', 'update']);
    expect(actions('products', b.id)).to.deep.equal(['create', 'update']);
    expect(audit.find((r) => r.table_name === 'products' && r.record_id === a.id && r.action === 'update')!.old_values).to.include({ stock: 10, version: 0 });
    expect(new Set(audit.map((r) => r.actor))).to.deep.equal(new Set([`tenant:${t.id}`]));

    // the order reads back (through the replica, with the write's token) with its items and customer
    const got = await t.request('GET', `/v1/orders/${res.body.id}`, { headers: { 'x-consistency-token': res.headers.get('x-consistency-token')! } });
    expect(got.status, got.text).to.equal(200);
    expect(got.headers.get('etag')).to.equal('"1"');
    const { customer: who, ...rest } = got.body;
    expect(rest).to.deep.equal(res.body);
    expect(who).to.include({ id: buyer });
    expect(who).to.have.all.keys('id', 'username', 'email');

    const after = await t.request('GET', `/v1/products/${a.id}`, { headers: { 'x-consistency-token': res.headers.get('x-consistency-token')! } });
    expect(after.body.stock).to.equal(7);
    expect((await t.request('GET', `/v1/products/${a.id}`)).headers.get('x-cache')).to.equal('miss');
  });

  it('refuses an order it cannot fill with 409 naming the product and line, changing nothing', async () => {
    const t = await gw.createTenant();
    const buyer = await customer(t);
    const plenty = await product(t, { stock: 50 });
    const scarce = await product(t, { stock: 2, name: 'Scarce gadget' });
    const before = await footprint(t);
    const res = await placeOrder(t, { customerId: buyer, items: [{ productId: plenty.id, quantity: 5 }, { productId: scarce.id, quantity: 3 }] });
    expect(res.status, res.text).to.equal(409);
    expect(res.headers.get('content-type')).to.match(/application\/problem\+json/);
    expect(res.body).to.include({ code: 'CONFLICT', field: 'items[1].quantity' });
    expect(res.body.detail).to.include(scarce.id).and.include('Scarce gadget');
    expect(await footprint(t)).to.deep.equal(before);
  });

  it('sells exactly the stock under a burst of concurrent orders, never below zero', async () => {
    const t = await gw.createTenant();
    const buyer = await customer(t);
    const hot = await product(t, { stock: 5, price: '2.50' });
    const results = await Promise.all(
      Array.from({ length: 20 }, () => placeOrder(t, { customerId: buyer, items: [{ productId: hot.id, quantity: 1 }] })),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201), statuses.join(',')).to.have.length(5);
    expect(statuses.filter((s) => s === 409), statuses.join(',')).to.have.length(15);
    // every refusal is "out of stock", not a retry budget running out
    for (const r of results.filter((x) => x.status === 409)) expect(r.body.field, r.text).to.equal('items[0].quantity');
    expect(await stockOf(t, hot.id)).to.deep.equal({ stock: 0, version: 5 });
    const [counts] = await sql<{ orders: string; sold: string; payments: string }>(
      primaryOf(t),
      `SELECT (SELECT count(*) FROM orders WHERE tenant_id = $1) AS orders,
              (SELECT sum(quantity) FROM order_items WHERE tenant_id = $1) AS sold,
              (SELECT count(*) FROM payments WHERE tenant_id = $1) AS payments`,
      [t.id],
    );
    expect(counts).to.deep.equal({ orders: '5', sold: '5', payments: '5' });
  });

  it('re-runs orders that lose a race for a hot product (40001) until they succeed', async () => {
    const t = await gw.createTenant();
    const buyer = await customer(t);
    const hot = await product(t, { stock: 100 });
    // without the retry loop all but one would fail: each commit makes the waiting row locks raise 40001
    const results = await Promise.all(Array.from({ length: 8 }, () => placeOrder(t, { customerId: buyer, items: [{ productId: hot.id, quantity: 2 }] })));
    expect(results.map((r) => r.status), results.map((r) => r.text).join('\n')).to.deep.equal(Array(8).fill(201));
    expect(await stockOf(t, hot.id)).to.deep.equal({ stock: 84, version: 8 });
  });

  describe('Idempotency-Key', () => {
    let t: TestTenant;
    let buyer: string;
    let item: { id: string; name: string };
    before(async () => {
      t = await gw.createTenant();
      buyer = await customer(t);
      item = await product(t, { stock: 1000 });
    });
    const countOrders = async () => Number((await sql<{ n: string }>(primaryOf(t), 'SELECT count(*) AS n FROM orders WHERE tenant_id = $1', [t.id]))[0]!.n);

    it('replays the first response for a repeated key (same status, same body, one order)', async () => {
      const key = `order-${randomUUID()}`;
      const body = { customerId: buyer, items: [{ productId: item.id, quantity: 2 }] };
      const ordersBefore = await countOrders();
      const stockBefore = (await stockOf(t, item.id)).stock;
      const first = await placeOrder(t, body, { 'idempotency-key': key });
      expect(first.status, first.text).to.equal(201);
      // same request with its keys in another order: the canonical hash matches
      const again = await placeOrder(t, { items: [{ quantity: 2, productId: item.id }], customerId: buyer }, { 'idempotency-key': key });
      expect(again.status).to.equal(201);
      expect(again.headers.get('idempotent-replayed')).to.equal('true');
      expect(again.headers.get('etag')).to.equal(first.headers.get('etag'));
      expect(again.text).to.equal(first.text);
      expect(await countOrders()).to.equal(ordersBefore + 1);
      expect((await stockOf(t, item.id)).stock).to.equal(stockBefore - 2);
    });

    it('refuses the same key with a different body (409 naming Idempotency-Key)', async () => {
      const key = `order-${randomUUID()}`;
      expect((await placeOrder(t, { customerId: buyer, items: [{ productId: item.id, quantity: 1 }] }, { 'idempotency-key': key })).status).to.equal(201);
      const before = await footprint(t);
      const other = await placeOrder(t, { customerId: buyer, items: [{ productId: item.id, quantity: 7 }] }, { 'idempotency-key': key });
      expect(other.status, other.text).to.equal(409);
      expect(other.body).to.include({ code: 'CONFLICT', field: 'Idempotency-Key' });
      expect(await footprint(t)).to.deep.equal(before);
    });

    it('creates exactly one order for concurrent requests with one key', async () => {
      const key = `burst-${randomUUID()}`;
      const body = { customerId: buyer, items: [{ productId: item.id, quantity: 1 }] };
      const ordersBefore = await countOrders();
      const stockBefore = (await stockOf(t, item.id)).stock;
      const results = await Promise.all(Array.from({ length: 10 }, () => placeOrder(t, body, { 'idempotency-key': key })));
      expect(results.map((r) => r.status), results.map((r) => r.text).join('\n')).to.deep.equal(Array(10).fill(201));
      expect(new Set(results.map((r) => r.body.id)).size).to.equal(1);
      expect(new Set(results.map((r) => r.text)).size).to.equal(1);
      expect(results.filter((r) => r.headers.get('idempotent-replayed') === null)).to.have.length(1);
      expect(await countOrders()).to.equal(ordersBefore + 1);
      expect((await stockOf(t, item.id)).stock).to.equal(stockBefore - 1);
    });

    it('ignores an expired key: the request runs again', async () => {
      const key = `old-${randomUUID()}`;
      const body = { customerId: buyer, items: [{ productId: item.id, quantity: 1 }] };
      const first = await placeOrder(t, body, { 'idempotency-key': key });
      const [stored] = await sql<{ status_code: number; ttl: string }>(
        primaryOf(t),
        `SELECT status_code, round(extract(epoch FROM expires_at - created_at) / 3600)::text AS ttl FROM idempotency_keys WHERE tenant_id = $1 AND key = $2`,
        [t.id, key],
      );
      expect(stored).to.deep.equal({ status_code: 201, ttl: '24' });
      await sql(primaryOf(t), `UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE tenant_id = $1 AND key = $2`, [t.id, key]);
      const second = await placeOrder(t, body, { 'idempotency-key': key });
      expect(second.status, second.text).to.equal(201);
      expect(second.headers.get('idempotent-replayed')).to.equal(null);
      expect(second.body.id).to.not.equal(first.body.id);
      // and the key now replays the new order
      expect((await placeOrder(t, body, { 'idempotency-key': key })).body.id).to.equal(second.body.id);
    });

    it('keeps keys per tenant, and does not store refused requests', async () => {
      const key = `shared-${randomUUID()}`;
      const other = await gw.createTenant();
      const otherBuyer = await customer(other);
      const otherItem = await product(other, { stock: 1 });
      const mine = await placeOrder(t, { customerId: buyer, items: [{ productId: item.id, quantity: 1 }] }, { 'idempotency-key': key });
      const theirs = await placeOrder(other, { customerId: otherBuyer, items: [{ productId: otherItem.id, quantity: 1 }] }, { 'idempotency-key': key });
      expect([mine.status, theirs.status]).to.deep.equal([201, 201]);
      expect(theirs.body.id).to.not.equal(mine.body.id);
      // out of stock now: the 409 is not stored, so the same key may succeed after a restock
      const refused = await placeOrder(other, { customerId: otherBuyer, items: [{ productId: otherItem.id, quantity: 1 }] }, { 'idempotency-key': 'retry-me' });
      expect(refused.status).to.equal(409);
      await other.request('PATCH', `/v1/products/${otherItem.id}`, { body: { stock: 1 } });
      const retried = await placeOrder(other, { customerId: otherBuyer, items: [{ productId: otherItem.id, quantity: 1 }] }, { 'idempotency-key': 'retry-me' });
      expect(retried.status, retried.text).to.equal(201);
    });

    it('validates the header (1..255 printable ASCII)', async () => {
      const body = { customerId: buyer, items: [{ productId: item.id, quantity: 1 }] };
      for (const key of ['', 'x'.repeat(256), 'tab\there']) {
        const res = await placeOrder(t, body, { 'idempotency-key': key });
        expect(res.status, JSON.stringify(key)).to.equal(400);
        expect(res.body.field).to.equal('Idempotency-Key');
      }
      expect((await placeOrder(t, body, { 'idempotency-key': 'x'.repeat(255) })).status).to.equal(201);
    });
  });

  it('rejects bad orders naming the field, and never sees another tenant', async () => {
    const t = await gw.createTenant();
    const buyer = await customer(t);
    const ok = await product(t);
    const inactive = await product(t, { isActive: false });
    const deleted = await product(t);
    expect((await t.request('DELETE', `/v1/products/${deleted.id}`)).status).to.equal(204);
    const gone = await customer(t);
    expect((await t.request('DELETE', `/v1/users/${gone}`)).status).to.equal(204);
    const other = await gw.createTenant();
    const foreignBuyer = await customer(other);
    const foreignItem = await product(other);

    const line = (productId: string, quantity: unknown = 1) => ({ productId, quantity });
    const cases: Array<[Json, string]> = [
      [{ items: [line(ok.id)] }, 'customerId'],
      [{ customerId: 'nope', items: [line(ok.id)] }, 'customerId'],
      [{ customerId: buyer }, 'items'],
      [{ customerId: buyer, items: [] }, 'items'],
      [{ customerId: buyer, items: Array.from({ length: 101 }, () => line(ok.id)) }, 'items'],
      [{ customerId: buyer, items: [line(ok.id, 0)] }, 'items[0].quantity'],
      [{ customerId: buyer, items: [line(ok.id, 10_001)] }, 'items[0].quantity'],
      [{ customerId: buyer, items: [line(ok.id, 1.5)] }, 'items[0].quantity'],
      [{ customerId: buyer, items: [line(ok.id, '1')] }, 'items[0].quantity'],
      [{ customerId: buyer, items: [line(ok.id), line('bad')] }, 'items[1].productId'],
      [{ customerId: buyer, items: [line(ok.id), line(ok.id.toUpperCase())] }, 'items[1].productId'],
      [{ customerId: buyer, items: [{ ...line(ok.id), price: 1 }] }, 'items[0].price'],
      [{ customerId: buyer, items: [line(ok.id)], status: 'confirmed' }, 'status'],
      // well-formed, but not a live, active product or live customer of this tenant
      [{ customerId: buyer, items: [line(ok.id), line(inactive.id)] }, 'items[1].productId'],
      [{ customerId: buyer, items: [line(deleted.id)] }, 'items[0].productId'],
      [{ customerId: buyer, items: [line(foreignItem.id)] }, 'items[0].productId'],
      [{ customerId: gone, items: [line(ok.id)] }, 'customerId'],
      [{ customerId: foreignBuyer, items: [line(ok.id)] }, 'customerId'],
    ];
    const before = await footprint(t);
    for (const [body, field] of cases) {
      const res = await placeOrder(t, body);
      expect(res.status, `${JSON.stringify(body).slice(0, 200)} → ${res.text}`).to.equal(400);
      expect(res.body.field, JSON.stringify(body).slice(0, 200)).to.equal(field);
      expect(res.text).to.not.include(other.id);
    }
    expect(await footprint(t)).to.deep.equal(before);

    // another tenant's order is unknown here, like a made-up id
    const theirs = await placeOrder(other, { customerId: foreignBuyer, items: [line(foreignItem.id)] });
    expect(theirs.status).to.equal(201);
    expect((await t.request('GET', `/v1/orders/${theirs.body.id}`, { headers: strong })).status).to.equal(404);
    expect((await t.request('GET', '/v1/orders/not-an-id', { headers: strong })).status).to.equal(404);
    expect((await t.request('GET', `/v1/orders?customerId=${foreignBuyer}`, { headers: strong })).body.items).to.deep.equal([]);
  });

  describe('listing', () => {
    let t: TestTenant;
    let alice: string;
    let bob: string;
    const ids: string[] = [];
    before(async () => {
      t = await gw.createTenant();
      alice = await customer(t);
      bob = await customer(t);
      const p1 = await product(t, { stock: 1000, price: '1.25' });
      const p2 = await product(t, { stock: 1000, price: '3.00' });
      for (let i = 0; i < 22; i++) {
        const res = await placeOrder(t, { customerId: i % 2 === 0 ? alice : bob, items: [{ productId: p1.id, quantity: i + 1 }, { productId: p2.id, quantity: 1 }] });
        expect(res.status, res.text).to.equal(201);
        ids.push(res.body.id as string);
      }
      await sql(primaryOf(t), `UPDATE orders SET status = 'cancelled' WHERE tenant_id = $1 AND id = $2`, [t.id, ids[3]]);
    });

    it('lists pages with items and customers, filtered by status and customer', async () => {
      const page = await t.request('GET', '/v1/orders?pageSize=5&page=2', { headers: strong });
      expect(page.status, page.text).to.equal(200);
      expect(page.body).to.include({ page: 2, pageSize: 5, total: 22 });
      const listed = page.body.items as Json[];
      expect(listed.map((o) => o.id)).to.deep.equal(ids.slice(5, 10));
      for (const o of listed) {
        expect(o.items as Json[]).to.have.length(2);
        expect(o.customer).to.have.all.keys('id', 'username', 'email');
        expect((o.customer as Json).id).to.equal(o.customerId);
        expect(o.payment).to.include({ status: 'captured', amount: o.total });
      }
      expect(listed[0]!.total).to.equal(6 * 1.25 + 3); // 6 × 1.25 + 3.00 = 10.5

      const byAlice = await t.request('GET', `/v1/orders?customerId=${alice}&pageSize=100`, { headers: strong });
      expect(byAlice.body.total).to.equal(11);
      expect((byAlice.body.items as Json[]).every((o) => o.customerId === alice)).to.equal(true);
      const cancelled = await t.request('GET', '/v1/orders?status=cancelled', { headers: strong });
      expect((cancelled.body.items as Json[]).map((o) => o.id)).to.deep.equal([ids[3]]);
      const bobConfirmed = await t.request('GET', `/v1/orders?status=confirmed&customerId=${bob}&pageSize=100`, { headers: strong });
      expect(bobConfirmed.body.total).to.equal(10); // bob's 11 minus the cancelled one

      for (const [query, field] of [['status=shipped', 'status'], ['customerId=x', 'customerId'], ['sort=customerId', 'sort'], ['pageSize=101', 'pageSize'], ['cursor=bm9wZQ', 'cursor']]) {
        const bad = await t.request('GET', `/v1/orders?${query}`, { headers: strong });
        expect(bad.status, query).to.equal(400);
        expect(bad.body.field, query).to.equal(field);
      }
    });

    it('pages by cursor through every order exactly once', async () => {
      for (const sort of ['createdAt', '-createdAt', '-total']) {
        const seen: string[] = [];
        let cursor = '';
        for (let guard = 0; guard < 20 && seen.length <= 22; guard++) {
          const res = await t.request('GET', `/v1/orders?pageSize=4&sort=${sort}&cursor=${cursor}`, { headers: strong });
          expect(res.status, res.text).to.equal(200);
          seen.push(...(res.body.items as Json[]).map((o) => o.id as string));
          if (res.body.nextCursor === null) break;
          cursor = res.body.nextCursor as string;
        }
        expect(seen, sort).to.have.length(22);
        expect(new Set(seen).size).to.equal(22);
        if (sort === 'createdAt') expect(seen).to.deep.equal(ids);
        if (sort === '-total') expect(seen).to.deep.equal([...ids].reverse()); // totals grow with i
      }
    });

    it('runs a constant number of queries whatever the page size (no N+1)', async () => {
      async function pgSpans(path: string): Promise<{ res: HttpResult; spans: ReadableSpan[] }> {
        const traceId = randomBytes(16).toString('hex');
        const traceparent = `00-${traceId}-${randomBytes(8).toString('hex')}-01`;
        const res = await t.request('GET', path, { headers: { traceparent, ...strong } });
        await new Promise((r) => setTimeout(r, 50));
        const spans = spanExporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId && s.name.startsWith('pg.query'));
        return { res, spans };
      }
      const small = await pgSpans('/v1/orders?pageSize=2');
      const large = await pgSpans('/v1/orders?pageSize=20');
      expect((small.res.body.items as Json[]).length).to.equal(2);
      expect((large.res.body.items as Json[]).length).to.equal(20);
      expect((large.res.body.items as Json[]).every((o) => (o.items as Json[]).length === 2 && o.customer !== null)).to.equal(true);
      expect(small.spans.length, small.spans.map((s) => s.name).join(', ')).to.be.greaterThan(0);
      expect(large.spans.length, large.spans.map((s) => s.name).join(', ')).to.equal(small.spans.length);
      // orders (+ customer + payment joined), their items, and the page-mode count; around
      // them the read transaction, begun with its row-level security scope in the same round
      // trip (START …; set_config), and its COMMIT
      const data = (spans: ReadableSpan[]) =>
        spans.filter((s) => !/^pg\.query:(START|COMMIT|BEGIN)/.test(s.name) && !String(s.attributes['db.query.text'] ?? s.attributes['db.statement'] ?? '').includes('set_config'));
      expect(data(large.spans).length, large.spans.map((s) => s.name).join(', ')).to.be.at.most(3);
      expect(large.spans.length - data(large.spans).length, 'transaction and scope statements').to.equal(2);
    });
  });

  describe('payment step in a savepoint', () => {
    it('rolls a failed payment attempt back to its savepoint and retries it inside the same transaction', async () => {
      const t = await gw.createTenant();
      const buyer = await customer(t);
      const item = await product(t, { stock: 4, price: '12.34' });
      const session = gw.gateway.sessions.open(t.id);
      const attempts: number[] = [];
      const faults: OrderFaults = {
        afterPaymentWrite: async ({ attempt, node: n, transaction }) => {
          attempts.push(attempt);
          // a real database error inside the savepoint: without ROLLBACK TO SAVEPOINT the
          // whole transaction would be unusable (25P02)
          if (attempt === 1) await n.sequelize.query('SELECT 1 / 0', { transaction });
        },
      };
      const invalidated: string[] = [];
      const repo = new OrdersRepository({ products: { invalidate: async (_session, ids) => void invalidated.push(...ids) }, faults });
      const result = await repo.create(session, { customerId: buyer, items: [{ productId: item.id, quantity: 2 }] });
      expect(attempts).to.deep.equal([1, 2]);
      expect(result.status).to.equal(201);
      expect(result.order).to.include({ status: 'confirmed', total: 24.68 });
      expect(invalidated).to.deep.equal([item.id]);

      const payments = await sql<{ id: string; amount: string }>(primaryOf(t), 'SELECT id, amount::text AS amount FROM payments WHERE tenant_id = $1', [t.id]);
      expect(payments).to.deep.equal([{ id: result.order.payment!.id, amount: '24.68' }]);
      const paymentAudit = await sql(primaryOf(t), `SELECT record_id FROM audit_log WHERE tenant_id = $1 AND table_name = 'payments'`, [t.id]);
      expect(paymentAudit).to.deep.equal([{ record_id: result.order.payment!.id }]);
      expect((await stockOf(t, item.id)).stock).to.equal(2);
      const got = await t.request('GET', `/v1/orders/${result.order.id}`, { headers: strong });
      expect(got.body.payment).to.deep.equal(result.order.payment);
    });

    it('fails the whole order (503, nothing changed) when every payment attempt fails', async () => {
      const t = await gw.createTenant();
      const buyer = await customer(t);
      const item = await product(t, { stock: 4 });
      const session = gw.gateway.sessions.open(t.id);
      const repo = new OrdersRepository({
        products: { invalidate: async () => undefined },
        paymentAttempts: 2,
        faults: { afterPaymentWrite: async () => Promise.reject(new Error('card declined (simulated)')) },
      });
      const before = await footprint(t);
      const err = await repo.create(session, { customerId: buyer, items: [{ productId: item.id, quantity: 1 }] }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(GatewayError);
      expect((err as GatewayError).status).to.equal(503);
      expect(await footprint(t)).to.deep.equal(before);
    });
  });
});
