import { expect } from 'chai';
import { randomBytes, randomUUID } from 'node:crypto';
import { TestGateway, TestTenant, sql, sqlSession, testCluster, type HttpResult, type Json } from '../support/test-cluster.js';
import { spanExporter } from '../support/telemetry.js';

const strong = { 'x-consistency': 'strong' };

// One comments table for users, products and orders (subject_type, subject_id): a
// polymorphic association, with integrity in the database where no foreign key reaches.
describe('comments: one polymorphic association on users, products and orders', function () {
  this.timeout(90_000);
  let gw: TestGateway;
  let tenant: TestTenant;
  let other: TestTenant;
  const subjects: Record<'users' | 'products' | 'orders', string> = { users: '', products: '', orders: '' };
  let username = '';
  before(async () => {
    gw = await TestGateway.start();
    tenant = await gw.createTenant('cmt');
    other = await gw.createTenant('cmt');
    const user = await tenant.createUser();
    subjects.users = user.body.id as string;
    username = user.body.username as string;
    subjects.products = (await tenant.request('POST', '/v1/products', { body: { name: 'Desk lamp', price: '20.00', stock: 50 } })).body.id as string;
    const order = await tenant.request('POST', '/v1/orders', { body: { customerId: subjects.users, items: [{ productId: subjects.products, quantity: 1 }] } });
    expect(order.status, order.text).to.equal(201);
    subjects.orders = order.body.id as string;
  });
  after(async () => {
    await gw?.stop();
  });

  const primaryOf = (t: TestTenant) => testCluster().shards.find((s) => s.id === t.shard)!.admin.primary;
  const comment = (t: TestTenant, kind: string, id: string, body = `note ${randomUUID().slice(0, 6)}`): Promise<HttpResult> =>
    t.request('POST', `/v1/${kind}/${id}/comments`, { body: { body } });
  const get = (t: TestTenant, path: string): Promise<HttpResult> => t.request('GET', path, { headers: strong });
  const items = (res: HttpResult) => res.body.items as Json[];

  it('comments on each subject type, lists them oldest first, and shows each with its subject', async () => {
    const type = { users: 'user', products: 'product', orders: 'order' } as const;
    for (const kind of ['users', 'products', 'orders'] as const) {
      const first = await comment(tenant, kind, subjects[kind], `first on ${kind}`);
      expect(first.status, first.text).to.equal(201);
      expect(first.body).to.include({ subjectType: type[kind], subjectId: subjects[kind], body: `first on ${kind}`, version: 0 });
      expect(first.body).to.include.keys('id', 'createdAt', 'updatedAt');
      expect(first.headers.get('location')).to.equal(`/v1/comments/${first.body.id as string}`);
      await comment(tenant, kind, subjects[kind], `second on ${kind}`);
      const list = await get(tenant, `/v1/${kind}/${subjects[kind]}/comments`);
      expect(list.status, list.text).to.equal(200);
      expect(items(list).map((c) => c.body)).to.deep.equal([`first on ${kind}`, `second on ${kind}`]);
      expect(list.body.total).to.equal(2);

      // getSubject(): the comment's own read names its subject
      const one = await get(tenant, `/v1/comments/${first.body.id as string}`);
      expect(one.body.subject).to.deep.equal({
        type: type[kind],
        id: subjects[kind],
        label: { users: username, products: 'Desk lamp', orders: 'confirmed' }[kind],
      });
    }
    const all = await get(tenant, '/v1/comments?pageSize=100');
    expect(items(all).map((c) => (c.subject as Json).type)).to.include.members(['user', 'product', 'order']);
    const onlyOrders = await get(tenant, '/v1/comments?subjectType=order');
    expect(items(onlyOrders).every((c) => c.subjectType === 'order')).to.equal(true);
    expect(items(onlyOrders)).to.have.length(2);
  });

  it("answers 404 for a missing subject, another tenant's, or a soft-deleted one, and stores nothing", async () => {
    const before = await sql<{ n: number }>(primaryOf(tenant), 'SELECT count(*)::int AS n FROM comments WHERE tenant_id = $1', [tenant.id]);
    expect((await comment(tenant, 'products', randomUUID())).status).to.equal(404);
    expect((await comment(tenant, 'orders', 'not-an-id')).status).to.equal(404);
    expect((await comment(other, 'products', subjects.products)).status, "another tenant's product").to.equal(404);
    expect((await get(other, `/v1/products/${subjects.products}/comments`)).status).to.equal(404);
    const gone = (await tenant.request('POST', '/v1/products', { body: { name: 'gone', price: '1.00', stock: 1 } })).body.id as string;
    expect((await tenant.request('DELETE', `/v1/products/${gone}`)).status).to.equal(204);
    const res = await comment(tenant, 'products', gone);
    expect([res.status, res.body.code]).to.deep.equal([404, 'NOT_FOUND']);
    const after = await sql<{ n: number }>(primaryOf(tenant), 'SELECT count(*)::int AS n FROM comments WHERE tenant_id = $1', [tenant.id]);
    expect(after[0]!.n).to.equal(before[0]!.n);
    // another tenant sees none of this tenant's comments
    expect(items(await get(other, '/v1/comments')).length).to.equal(0);
  });

  it('hides the comments of a soft-deleted subject and brings them back with it', async () => {
    const user = (await tenant.createUser()).body.id as string;
    const c = (await comment(tenant, 'users', user, 'about to vanish')).body.id as string;
    const visible = async () => items(await get(tenant, '/v1/comments?pageSize=100')).some((x) => x.id === c);
    expect(await visible()).to.equal(true);

    expect((await tenant.request('DELETE', `/v1/users/${user}`)).status).to.equal(204);
    expect(await visible()).to.equal(false);
    expect((await get(tenant, `/v1/comments/${c}`)).status).to.equal(404);
    expect((await get(tenant, `/v1/users/${user}/comments`)).status).to.equal(404);
    const [row] = await sql<{ subject_deleted_at: Date | null; deleted_at: Date | null }>(primaryOf(tenant), 'SELECT subject_deleted_at, deleted_at FROM comments WHERE tenant_id = $1 AND id = $2', [tenant.id, c]);
    expect(row!.subject_deleted_at, 'hidden with its subject').to.not.equal(null);
    expect(row!.deleted_at, 'not deleted itself').to.equal(null);

    expect((await tenant.request('POST', `/v1/users/${user}/restore`)).status).to.equal(200);
    expect(await visible()).to.equal(true);
    expect(items(await get(tenant, `/v1/users/${user}/comments`)).map((x) => x.id)).to.deep.equal([c]);
  });

  it('edits with If-Match, soft-deletes and restores a comment, audited', async () => {
    const c = await comment(tenant, 'products', subjects.products, 'typo');
    const id = c.body.id as string;
    const stale = await tenant.request('PATCH', `/v1/comments/${id}`, { body: { body: 'fixed' }, headers: { 'if-match': '"5"' } });
    expect(stale.status).to.equal(412);
    const fixed = await tenant.request('PATCH', `/v1/comments/${id}`, { body: { body: 'fixed' }, headers: { 'if-match': '"0"' } });
    expect([fixed.status, fixed.body.body, fixed.body.version]).to.deep.equal([200, 'fixed', 1]);
    expect((await tenant.request('DELETE', `/v1/comments/${id}`)).status).to.equal(204);
    expect((await get(tenant, `/v1/comments/${id}`)).status).to.equal(404);
    expect((await tenant.request('POST', `/v1/comments/${id}/restore`)).status).to.equal(200);
    const trail = await get(tenant, `/v1/audit?table=comments&recordId=${id}`);
    expect(items(trail).map((e) => e.action)).to.deep.equal(['create', 'update', 'delete', 'restore']);
  });

  it('refuses bad input with a 400 naming the field', async () => {
    for (const [body, field] of [
      [{}, 'body'],
      [{ body: '' }, 'body'],
      [{ body: '   ' }, 'body'],
      [{ body: 'x'.repeat(10_001) }, 'body'],
      [{ body: 'ok', subjectType: 'user' }, 'subjectType'],
    ] as const) {
      const res = await tenant.request('POST', `/v1/products/${subjects.products}/comments`, { body });
      expect([res.status, res.body.field], JSON.stringify(body)).to.deep.equal([400, field]);
    }
    const res = await get(tenant, '/v1/comments?subjectType=invoice');
    expect([res.status, res.body.field]).to.deep.equal([400, 'subjectType']);
  });

  it('is guarded in the database: no comment on a missing, other tenant\'s or soft-deleted subject, even by raw SQL', async () => {
    const url = primaryOf(tenant);
    const gone = (await tenant.request('POST', '/v1/products', { body: { name: 'gone too', price: '1.00', stock: 1 } })).body.id as string;
    await tenant.request('DELETE', `/v1/products/${gone}`);
    // another tenant's product on the same shard (written straight in: the other test tenant may live elsewhere)
    const foreign = randomUUID();
    await sql(url, `INSERT INTO products (tenant_id, id, name, price, stock, created_at, updated_at) VALUES ($1, $2, 'theirs', 1, 1, now(), now())`, [`${tenant.id}-other`, foreign]);
    const insert = (subjectType: string, subjectId: string) =>
      sql(url, `INSERT INTO comments (tenant_id, id, subject_type, subject_id, body, created_at, updated_at) VALUES ($1, $2, $3, $4, 'raw', now(), now())`, [
        tenant.id,
        randomUUID(),
        subjectType,
        subjectId,
      ]).then(
        () => undefined,
        (err: { code?: string }) => err.code,
      );
    expect(await insert('product', randomUUID()), 'a missing subject').to.equal('23503');
    expect(await insert('product', gone), 'a soft-deleted subject').to.equal('23503');
    expect(await insert('product', foreign), "another tenant's subject").to.equal('23503');
    await sql(url, 'DELETE FROM products WHERE tenant_id = $1', [`${tenant.id}-other`]);
    expect(await insert('user', subjects.products), 'a product named as a user').to.equal('23503');
    expect(await insert('invoice', subjects.products), 'an unknown type').to.equal('23514');
    expect(await insert('order', subjects.orders), 'a live subject').to.equal(undefined);
    // the policy: the request role, scoped to another tenant, sees none of them
    const seen = await sqlSession<{ n: number }>(testCluster().shards.find((s) => s.id === tenant.shard)!.primary, [
      'BEGIN',
      `SELECT set_config('shardgate.tenant_id', '${other.id}', true)`,
      `SELECT count(*)::int AS n FROM comments WHERE tenant_id = '${tenant.id}'`,
    ]);
    expect(seen[0]!.n).to.equal(0);
  });

  it('loads each page\'s subjects in one query per subject type: the same statements for 5 comments as for 50', async () => {
    const t = await gw.createTenant('cmt-count');
    const user = (await t.createUser()).body.id as string;
    const products: string[] = [];
    for (let i = 0; i < 3; i++) products.push((await t.request('POST', '/v1/products', { body: { name: `p${i}`, price: '1.00', stock: 100 } })).body.id as string);
    const order = (await t.request('POST', '/v1/orders', { body: { customerId: user, items: [{ productId: products[0], quantity: 1 }] } })).body.id as string;
    const targets: Array<[string, string]> = [['users', user], ['orders', order], ...products.map((p): [string, string] => ['products', p])];
    for (let i = 0; i < 50; i++) {
      const [kind, id] = targets[i % targets.length]!;
      expect((await comment(t, kind, id)).status).to.equal(201);
    }
    async function statements(path: string): Promise<{ res: HttpResult; count: number }> {
      const traceId = randomBytes(16).toString('hex');
      const res = await t.request('GET', path, { headers: { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01`, ...strong } });
      await new Promise((r) => setTimeout(r, 50));
      const count = spanExporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId && s.name.startsWith('pg.query')).length;
      return { res, count };
    }
    const small = await statements('/v1/comments?pageSize=5');
    const large = await statements('/v1/comments?pageSize=50');
    expect(items(small.res)).to.have.length(5);
    expect(items(large.res)).to.have.length(50);
    expect(items(large.res).every((c) => c.subject !== null)).to.equal(true);
    expect(small.count).to.be.greaterThan(0);
    expect(large.count, 'statements for 50 comments').to.equal(small.count);
  });
});
