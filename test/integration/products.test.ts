import { expect } from 'chai';
import { TestGateway, TestTenant, sql, sqlSession, testCluster, type Json } from '../support/test-cluster.js';

const strong = { 'x-consistency': 'strong' };

function product(overrides: Json = {}): Json {
  return { name: 'Blue Widget', price: 19.99, stock: 10, ...overrides };
}

describe('tenant API: /v1/products', function () {
  this.timeout(60_000);
  let gw: TestGateway;
  let tenant: TestTenant;
  before(async () => {
    gw = await TestGateway.start();
    tenant = await gw.createTenant();
  });
  after(async () => {
    await gw?.stop();
  });
  const primaryOf = (t: TestTenant) => testCluster().shards.find((s) => s.id === t.shard)!.admin.primary;

  it('creates a product with exact price, hstore attributes and jsonb metadata', async () => {
    const metadata = { nested: { list: [1, 'two', { three: null }], empty: {} }, unicode: 'ünïcødé ✓', float: 0.1 };
    const res = await tenant.request('POST', '/v1/products', {
      body: product({ price: '1234567.89', attributes: { color: 'blue', size: 'M' }, metadata, categoryId: 'tools' }),
    });
    expect(res.status, res.text).to.equal(201);
    expect(res.body).to.include({ name: 'Blue Widget', price: 1234567.89, stock: 10, categoryId: 'tools', isActive: true, version: 0 });
    expect(res.body.attributes).to.deep.equal({ color: 'blue', size: 'M' });
    expect(res.body.metadata).to.deep.equal(metadata);
    const [row] = await sql<{ price: string; attributes: string; meta: unknown }>(
      primaryOf(tenant),
      `SELECT price::text AS price, attributes::text AS attributes, metadata AS meta FROM products WHERE tenant_id = $1 AND id = $2`,
      [tenant.id, res.body.id],
    );
    expect(row!.price).to.equal('1234567.89');
    expect(row!.attributes).to.include('"color"=>"blue"');
    expect(row!.meta).to.deep.equal(metadata);
    const got = await tenant.request('GET', `/v1/products/${res.body.id}`, { headers: strong });
    expect(got.body.metadata).to.deep.equal(metadata);
    expect(got.body.attributes).to.deep.equal({ color: 'blue', size: 'M' });
    // audited with the write: one create row, the actor, the stored image (exact price text)
    const audit = await sql<{ action: string; actor: string; old_values: unknown; new_values: Json }>(
      primaryOf(tenant),
      `SELECT action, actor, old_values, new_values FROM audit_log WHERE tenant_id = $1 AND table_name = 'products' AND record_id = $2`,
      [tenant.id, res.body.id],
    );
    expect(audit).to.have.length(1);
    expect(audit[0]).to.include({ action: 'create', actor: `tenant:${tenant.id}`, old_values: null });
    expect(audit[0]!.new_values).to.deep.include({ tenantId: tenant.id, id: res.body.id, price: '1234567.89', version: 0, metadata, deletedAt: null });
    expect(audit[0]!.new_values.createdAt).to.equal(res.body.createdAt);
  });

  it('rejects bad product input naming the field', async () => {
    const cases: Array<[Json, string]> = [
      [{ price: 1, stock: 1 }, 'name'],
      [product({ price: -1 }), 'price'],
      [product({ price: 1.234 }), 'price'],
      [product({ price: 'ten' }), 'price'],
      [product({ stock: 1.5 }), 'stock'],
      [product({ stock: -1 }), 'stock'],
      [product({ attributes: { a: 1 } }), 'attributes.a'],
      [product({ attributes: 'x' }), 'attributes'],
      [product({ metadata: [1] }), 'metadata'],
      [product({ isActive: 'no' }), 'isActive'],
      [product({ color: 'red' }), 'color'],
    ];
    for (const [body, field] of cases) {
      const res = await tenant.request('POST', '/v1/products', { body });
      expect(res.status, JSON.stringify(body)).to.equal(400);
      expect(res.body.field, JSON.stringify(body)).to.equal(field);
    }
  });

  it('updates with If-Match (412 when stale) and bumps the version', async () => {
    const created = await tenant.request('POST', '/v1/products', { body: product() });
    const id = created.body.id as string;
    const ok = await tenant.request('PATCH', `/v1/products/${id}`, { body: { price: 5, stock: 3 }, headers: { 'if-match': '"0"' } });
    expect(ok.status).to.equal(200);
    expect(ok.body).to.include({ price: 5, stock: 3, version: 1 });
    const stale = await tenant.request('PATCH', `/v1/products/${id}`, { body: { stock: 4 }, headers: { 'if-match': '"0"' } });
    expect(stale.status).to.equal(412);
  });

  it('searches with the full-text index; soft-deleted products vanish from lists and search and return on restore', async () => {
    const t = await gw.createTenant();
    const a = await t.request('POST', '/v1/products', { body: product({ name: 'Ergonomic keyboard', description: 'mechanical switches' }) });
    await t.request('POST', '/v1/products', { body: product({ name: 'Wireless mouse', description: 'optical sensor' }) });
    const found = await t.request('GET', '/v1/products?q=keyboards', { headers: strong });
    expect(found.status).to.equal(200);
    expect((found.body.items as Json[]).map((p) => p.name)).to.deep.equal(['Ergonomic keyboard']);
    const bySwitch = await t.request('GET', '/v1/products?q=switch', { headers: strong });
    expect((bySwitch.body.items as Json[]).length).to.equal(1);

    expect((await t.request('DELETE', `/v1/products/${a.body.id}`)).status).to.equal(204);
    expect(((await t.request('GET', '/v1/products?q=keyboard', { headers: strong })).body.items as Json[]).length).to.equal(0);
    const all = await t.request('GET', '/v1/products', { headers: strong });
    expect(all.body.total).to.equal(1);
    expect((await t.request('GET', `/v1/products/${a.body.id}`, { headers: strong })).status).to.equal(404);

    expect((await t.request('POST', `/v1/products/${a.body.id}/restore`)).status).to.equal(200);
    expect(((await t.request('GET', '/v1/products?q=keyboard', { headers: strong })).body.items as Json[]).length).to.equal(1);

    // at realistic size the plan uses the tenant-led GIN index
    const filler = Array.from({ length: 1000 }, (_, i) => product({ name: `Filler ${i}`, description: 'plain stock item' }));
    expect((await t.request('POST', '/v1/products/batch', { body: { items: filler } })).status).to.equal(200);
    const plan = await sqlSession<{ 'QUERY PLAN': string }>(primaryOf(t), [
      'ANALYZE products',
      // the shared test shard is small: rule out seq scans and plain b-tree walks, so the plan
      // shows which index answers the text condition
      'SET enable_seqscan = off',
      'SET enable_indexscan = off',
      `EXPLAIN SELECT id FROM products WHERE tenant_id = '${t.id}' AND deleted_at IS NULL AND search @@ websearch_to_tsquery('english', 'keyboard')`,
    ]);
    const planText = plan.map((r) => r['QUERY PLAN']).join('\n');
    expect(planText, planText).to.match(/products_tenant_search/);
  });

  it('pages by cursor through every product exactly once', async () => {
    const t = await gw.createTenant();
    const items = Array.from({ length: 23 }, (_, i) => product({ name: `P${String(i).padStart(2, '0')}`, price: i }));
    expect((await t.request('POST', '/v1/products/batch', { body: { items } })).status).to.equal(200);
    for (const sort of ['createdAt', '-price', 'name']) {
      const seen: string[] = [];
      let cursor = '';
      for (let guard = 0; guard < 10; guard++) {
        const res = await t.request('GET', `/v1/products?pageSize=5&sort=${sort}&cursor=${cursor}`, { headers: strong });
        expect(res.status, res.text).to.equal(200);
        seen.push(...(res.body.items as Json[]).map((p) => p.name as string));
        if (res.body.nextCursor === null) break;
        cursor = res.body.nextCursor as string;
      }
      expect(seen.length, sort).to.equal(23);
      expect(new Set(seen).size).to.equal(23);
      if (sort === 'name') expect(seen).to.deep.equal([...seen].sort());
    }
    const bad = await t.request('GET', '/v1/products?cursor=bm9wZQ', { headers: strong });
    expect(bad.status).to.equal(400);
    expect(bad.body.field).to.equal('cursor');
  });

  it('runs batch create, upsert, update and delete atomically, auditing every row', async () => {
    const t = await gw.createTenant();
    const created = await t.request('POST', '/v1/products/batch', { body: { items: [product({ name: 'A' }), product({ name: 'B' })] } });
    expect(created.status).to.equal(200);
    expect(created.body).to.include({ created: 2, updated: 0 });
    const [a, b] = created.body.items as Json[];

    const upserted = await t.request('POST', '/v1/products/batch', {
      body: { upsert: true, items: [product({ id: a!.id, name: 'A2', price: 1 }), product({ id: '0190a4b8-0000-7000-8000-0000000000ab', name: 'C' })] },
    });
    expect(upserted.status, upserted.text).to.equal(200);
    expect(upserted.body).to.include({ created: 1, updated: 1 });
    const a2 = (upserted.body.items as Json[]).find((p) => p.id === a!.id)!;
    expect(a2).to.include({ name: 'A2', price: 1, version: 1 });

    const patched = await t.request('PATCH', '/v1/products/batch', { body: { ids: [a!.id, b!.id], set: { isActive: false, attributes: { batch: 'yes' } } } });
    expect(patched.status, patched.text).to.equal(200);
    for (const p of patched.body.items as Json[]) expect(p).to.include({ isActive: false }).and.have.deep.property('attributes', { batch: 'yes' });

    // atomic: one unknown id fails the whole batch and changes nothing
    const partial = await t.request('DELETE', '/v1/products/batch', { body: { ids: [a!.id, '0190a4b8-0000-7000-8000-00000000ffff'] } });
    expect(partial.status).to.equal(404);
    expect((await t.request('GET', `/v1/products/${a!.id}`, { headers: strong })).status).to.equal(200);

    const deleted = await t.request('DELETE', '/v1/products/batch', { body: { ids: [a!.id, b!.id] } });
    expect(deleted.status).to.equal(200);
    expect(deleted.body.deleted).to.equal(2);

    const audit = await sql<{ record_id: string; action: string }>(
      primaryOf(t),
      `SELECT record_id, action FROM audit_log WHERE tenant_id = $1 AND table_name = 'products' ORDER BY created_at, id`,
      [t.id],
    );
    const actionsFor = (id: unknown) => audit.filter((r) => r.record_id === id).map((r) => r.action);
    expect(actionsFor(a!.id)).to.deep.equal(['create', 'update', 'update', 'delete']);
    expect(actionsFor(b!.id)).to.deep.equal(['create', 'update', 'delete']);
    expect(actionsFor('0190a4b8-0000-7000-8000-0000000000ab')).to.deep.equal(['create']);
  });

  it('refuses batches past the limit and malformed batches, naming the field', async () => {
    const small = await TestGateway.start({ limits: { batchMax: 3 } });
    try {
      const t = await small.createTenant();
      const tooMany = await t.request('POST', '/v1/products/batch', { body: { items: Array.from({ length: 4 }, () => product()) } });
      expect(tooMany.status).to.equal(400);
      expect(tooMany.body.field).to.equal('items');
      const badItem = await t.request('POST', '/v1/products/batch', { body: { items: [product(), product({ price: 'x' })] } });
      expect(badItem.body.field).to.equal('items[1].price');
      const idWithoutUpsert = await t.request('POST', '/v1/products/batch', { body: { items: [product({ id: '0190a4b8-0000-7000-8000-000000000001' })] } });
      expect(idWithoutUpsert.body.field).to.equal('items[0].id');
      const dupIds = await t.request('PATCH', '/v1/products/batch', { body: { ids: ['0190a4b8-0000-7000-8000-000000000001', '0190a4b8-0000-7000-8000-000000000001'], set: { stock: 1 } } });
      expect(dupIds.body.field).to.equal('ids');
      expect((await t.request('GET', '/v1/products', { headers: strong })).body.total).to.equal(0);
    } finally {
      await small.stop();
    }
  });

  it('shares the cache between gateways: a write on one is never served stale by the other', async () => {
    const other = await TestGateway.start();
    try {
      const t = await gw.createTenant();
      const onOther = other.tenantFor(t);
      const created = await t.request('POST', '/v1/products', { body: product({ name: 'cached' }) });
      const id = created.body.id as string;
      // warm both gateways' caches (eventual reads)
      for (let i = 0; i < 3; i++) {
        await t.request('GET', `/v1/products/${id}`);
        await onOther.request('GET', `/v1/products/${id}`);
      }
      expect((await onOther.request('GET', `/v1/products/${id}`)).headers.get('x-cache')).to.equal('hit');
      const updated = await t.request('PATCH', `/v1/products/${id}`, { body: { name: 'renamed' } });
      expect(updated.status).to.equal(200);
      // the other gateway must not serve the old name from its cache
      await new Promise((r) => setTimeout(r, 200));
      for (let i = 0; i < 5; i++) {
        const res = await onOther.request('GET', `/v1/products/${id}`);
        expect(res.body.name).to.equal('renamed');
      }
    } finally {
      await other.stop();
    }
  });
});
