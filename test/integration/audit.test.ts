import { expect } from 'chai';
import { TestGateway, TestTenant, type HttpResult, type Json } from '../support/test-cluster.js';

describe('tenant API: /v1/audit', function () {
  let gw: TestGateway;
  let tenant: TestTenant;
  let other: TestTenant;
  before(async () => {
    gw = await TestGateway.start();
    tenant = await gw.createTenant('audit');
    other = await gw.createTenant('audit');
  });
  after(async () => {
    await gw?.stop();
  });

  // every read of the trail goes to the primary: the test reads what it has just written
  const strong = { 'x-consistency': 'strong' };
  const trail = (t: TestTenant, query: string): Promise<HttpResult> => t.request('GET', `/v1/audit?${query}`, { headers: strong });
  const items = (res: HttpResult) => res.body.items as Json[];

  it("returns a product's trail through create, update, delete and restore, oldest first, with old and new values", async () => {
    const created = await tenant.request('POST', '/v1/products', { body: { name: 'lamp', price: '10.00', stock: 3 } });
    expect(created.status, created.text).to.equal(201);
    const id = created.body.id as string;
    const patched = await tenant.request('PATCH', `/v1/products/${id}`, { body: { price: '12.50' }, headers: { 'if-match': '"0"' } });
    expect(patched.status, patched.text).to.equal(200);
    expect((await tenant.request('DELETE', `/v1/products/${id}`)).status).to.equal(204);
    expect((await tenant.request('POST', `/v1/products/${id}/restore`)).status).to.equal(200);

    const res = await trail(tenant, `table=products&recordId=${id}`);
    expect(res.status, res.text).to.equal(200);
    const entries = items(res);
    expect(entries.map((e) => e.action)).to.deep.equal(['create', 'update', 'delete', 'restore']);
    for (const e of entries) {
      expect(e).to.include({ table: 'products', recordId: id, actor: `tenant:${tenant.id}` });
      expect(Number.isNaN(Date.parse(e.at as string))).to.equal(false);
    }
    const [create, update, remove] = entries;
    expect(create!.old).to.equal(null);
    expect(create!.new).to.include({ name: 'lamp', stock: 3 });
    // an update records the fields it changed, before and after
    expect(update!.old).to.deep.equal({ price: '10.00' });
    expect(String((update!.new as Json).price)).to.match(/^12\.50?$/);
    expect(remove!.new).to.equal(null);
    expect(res.body).to.include({ page: 1, pageSize: 20, total: 4 });
    expect(Date.parse(entries[0]!.at as string)).to.be.at.most(Date.parse(entries[3]!.at as string));
  });

  it('never shows a secret: a user trail carries no password hash and no tax id', async () => {
    const created = await tenant.createUser({ taxId: 'DE-123-SECRET' });
    expect(created.status, created.text).to.equal(201);
    const res = await trail(tenant, `table=users&recordId=${created.body.id as string}`);
    expect(items(res)).to.have.length(1);
    expect(res.text).not.to.match(/scrypt|passwordHash|password_hash|DE-123-SECRET|correct horse/);
  });

  it("shows another tenant none of it, even when it names the record", async () => {
    const created = await tenant.request('POST', '/v1/products', { body: { name: 'mine', price: '1.00', stock: 1 } });
    const res = await trail(other, `table=products&recordId=${created.body.id as string}`);
    expect(res.status).to.equal(200);
    expect(items(res)).to.deep.equal([]);
    expect(res.body.total).to.equal(0);
    const all = await trail(other, 'pageSize=100');
    expect(items(all).every((e) => e.recordId !== created.body.id)).to.equal(true);
  });

  it('pages the whole trail by cursor: every entry once, in order', async () => {
    const t = await gw.createTenant('audit-pages');
    for (let i = 0; i < 7; i++) expect((await t.request('POST', '/v1/products', { body: { name: `p${i}`, price: '1.00', stock: i } })).status).to.equal(201);
    const byPage = items(await trail(t, 'pageSize=100'));
    expect(byPage).to.have.length(7);

    const seen: Json[] = [];
    let cursor: string | null = '';
    let pages = 0;
    while (cursor !== null) {
      const res = await trail(t, `pageSize=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status, res.text).to.equal(200);
      // the first page is page 1 (numbered, counted); the ones after a cursor are not counted
      if (cursor) expect(res.body).not.to.have.property('total');
      seen.push(...items(res));
      cursor = res.body.nextCursor as string | null;
      pages += 1;
      expect(pages).to.be.below(10);
    }
    expect(seen.map((e) => e.id)).to.deep.equal(byPage.map((e) => e.id));
    const newest = items(await trail(t, 'pageSize=100&sort=-createdAt'));
    expect(newest.map((e) => e.id)).to.deep.equal(byPage.map((e) => e.id).reverse());
  });

  it('refuses bad input with a 400 naming the field', async () => {
    for (const [query, field] of [
      ['table=secrets', 'table'],
      ['recordId=Not%20an%20id!', 'recordId'],
      ['page=100000&pageSize=100', 'page'],
      ['cursor=AAAA', 'cursor'],
      ['sort=action', 'sort'],
      ['tenantId=x', 'tenantId'],
    ] as const) {
      const res = await trail(tenant, query);
      expect([res.status, res.body.field], `${query}: ${res.text}`).to.deep.equal([400, field]);
      expect(res.headers.get('content-type')).to.match(/application\/problem\+json/);
    }
  });
});
