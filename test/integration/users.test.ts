import { expect } from 'chai';
import { TestGateway, TestTenant, http, sql, testCluster } from '../support/test-cluster.js';

describe('tenant API: /v1/users', function () {
  let gw: TestGateway;
  let tenant: TestTenant;
  let other: TestTenant;
  before(async () => {
    gw = await TestGateway.start();
    tenant = await gw.createTenant();
    other = await gw.createTenant();
  });
  after(async () => {
    await gw?.stop();
  });

  const primaryOf = (shardId: string) => testCluster().shards.find((s) => s.id === shardId)!.admin.primary;

  it('creates a user without ever returning its password', async () => {
    const res = await tenant.createUser({ username: 'alice', email: 'alice@example.com', metadata: { plan: 'pro', tags: ['a'] } });
    expect(res.status).to.equal(201);
    expect(res.body).to.include({ username: 'alice', email: 'alice@example.com', isActive: true, version: 0 });
    expect(res.body.metadata).to.deep.equal({ plan: 'pro', tags: ['a'] });
    expect(res.body).to.include.keys('id', 'createdAt', 'updatedAt');
    expect(res.body.id).to.be.a('string');
    expect(res.text).not.to.match(/password|correct horse/i);
    expect(res.headers.get('etag')).to.equal('"0"');
    // sealed: neither the shard nor its WAL position shows
    expect(res.headers.get('x-consistency-token')).to.match(/^t1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{40,}$/);
    expect(res.headers.get('x-consistency-token')).not.to.include(tenant.shard);
    expect(res.headers.get('x-shard')).to.equal(tenant.shard);
    expect(res.headers.get('x-served-by')).to.equal('primary');

    const [row] = await sql<{ password_hash: string }>(primaryOf(tenant.shard), 'SELECT password_hash FROM users WHERE tenant_id = $1 AND id = $2', [tenant.id, res.body.id]);
    expect(row!.password_hash).to.match(/^scrypt\$/);
    expect(row!.password_hash).not.to.include('correct horse');
  });

  it('reads back a user (consistency token guarantees it is visible)', async () => {
    const created = await tenant.createUser();
    const token = created.headers.get('x-consistency-token')!;
    const got = await tenant.request('GET', `/v1/users/${created.body.id}`, { headers: { 'x-consistency-token': token } });
    expect(got.status).to.equal(200);
    expect(got.body).to.deep.equal(created.body);
  });

  it('updates with If-Match and refuses a stale version with 412', async () => {
    const created = await tenant.createUser();
    const id = created.body.id as string;
    const ok = await tenant.request('PATCH', `/v1/users/${id}`, { body: { metadata: { n: 1 } }, headers: { 'if-match': '"0"' } });
    expect(ok.status).to.equal(200);
    expect(ok.body.version).to.equal(1);
    expect(ok.headers.get('etag')).to.equal('"1"');
    const stale = await tenant.request('PATCH', `/v1/users/${id}`, { body: { metadata: { n: 2 } }, headers: { 'if-match': '"0"' } });
    expect(stale.status).to.equal(412);
    expect(stale.body.code).to.equal('VERSION_MISMATCH');
    const fresh = await tenant.request('GET', `/v1/users/${id}`, { headers: { 'x-consistency': 'strong' } });
    expect(fresh.body.metadata).to.deep.equal({ n: 1 });
  });

  it('changes a password by re-hashing it', async () => {
    const created = await tenant.createUser();
    const id = created.body.id as string;
    const [before] = await sql<{ password_hash: string }>(primaryOf(tenant.shard), 'SELECT password_hash FROM users WHERE tenant_id = $1 AND id = $2', [tenant.id, id]);
    const res = await tenant.request('PATCH', `/v1/users/${id}`, { body: { password: 'another long secret' } });
    expect(res.status).to.equal(200);
    expect(res.text).not.to.include('another long secret');
    const [after] = await sql<{ password_hash: string }>(primaryOf(tenant.shard), 'SELECT password_hash FROM users WHERE tenant_id = $1 AND id = $2', [tenant.id, id]);
    expect(after!.password_hash).to.match(/^scrypt\$/).and.not.equal(before!.password_hash);
  });

  it('refuses a duplicate username with 409, and allows it again after a soft delete', async () => {
    const first = await tenant.createUser({ username: 'dupe-name', email: 'dupe1@example.com' });
    expect(first.status).to.equal(201);
    const clash = await tenant.createUser({ username: 'Dupe-Name', email: 'dupe2@example.com' });
    expect(clash.status).to.equal(409);
    expect(clash.body).to.include({ code: 'CONFLICT', field: 'username' });
    const emailClash = await tenant.createUser({ username: 'dupe-other', email: 'DUPE1@example.com' });
    expect(emailClash.status).to.equal(409);
    expect(emailClash.body.field).to.equal('email');

    expect((await tenant.request('DELETE', `/v1/users/${first.body.id}`)).status).to.equal(204);
    const again = await tenant.createUser({ username: 'dupe-name', email: 'dupe1@example.com' });
    expect(again.status).to.equal(201);

    // the same username in another tenant never clashes
    expect((await other.createUser({ username: 'dupe-name', email: 'dupe1@example.com' })).status).to.equal(201);
  });

  it('soft deletes (row kept, hidden) and restores', async () => {
    const created = await tenant.createUser();
    const id = created.body.id as string;
    const del = await tenant.request('DELETE', `/v1/users/${id}`);
    expect(del.status).to.equal(204);
    expect(del.headers.get('x-consistency-token')).to.be.a('string');
    expect((await tenant.request('GET', `/v1/users/${id}`, { headers: { 'x-consistency': 'strong' } })).status).to.equal(404);
    expect((await tenant.request('DELETE', `/v1/users/${id}`)).status).to.equal(404);
    const [row] = await sql<{ deleted_at: Date | null }>(primaryOf(tenant.shard), 'SELECT deleted_at FROM users WHERE tenant_id = $1 AND id = $2', [tenant.id, id]);
    expect(row!.deleted_at).to.be.instanceOf(Date);

    const restored = await tenant.request('POST', `/v1/users/${id}/restore`);
    expect(restored.status).to.equal(200);
    expect(restored.body.id).to.equal(id);
    expect((await tenant.request('GET', `/v1/users/${id}`, { headers: { 'x-consistency': 'strong' } })).status).to.equal(200);
  });

  it('refuses to restore over a live user that took the same username', async () => {
    const first = await tenant.createUser({ username: 'phoenix', email: 'phoenix1@example.com' });
    await tenant.request('DELETE', `/v1/users/${first.body.id}`);
    expect((await tenant.createUser({ username: 'phoenix', email: 'phoenix2@example.com' })).status).to.equal(201);
    const res = await tenant.request('POST', `/v1/users/${first.body.id}/restore`);
    expect(res.status).to.equal(409);
    expect(res.body.field).to.equal('username');
  });

  it('writes an audit row in the same transaction for create, update, delete and restore', async () => {
    const created = await tenant.createUser();
    const id = created.body.id as string;
    await tenant.request('PATCH', `/v1/users/${id}`, { body: { isActive: false } });
    await tenant.request('DELETE', `/v1/users/${id}`);
    await tenant.request('POST', `/v1/users/${id}/restore`);
    const rows = await sql<{ action: string; old_values: Record<string, unknown> | null; new_values: Record<string, unknown> | null; actor: string }>(
      primaryOf(tenant.shard),
      `SELECT action, old_values, new_values, actor FROM audit_log WHERE tenant_id = $1 AND table_name = 'users' AND record_id = $2 ORDER BY created_at, id`,
      [tenant.id, id],
    );
    expect(rows.map((r) => r.action)).to.deep.equal(['create', 'update', 'delete', 'restore']);
    expect(rows[1]!.old_values).to.include({ isActive: true });
    expect(rows[1]!.new_values).to.include({ isActive: false });
    expect(rows[0]!.actor).to.equal(`tenant:${tenant.id}`);
    expect(JSON.stringify(rows)).not.to.match(/password|scrypt/i);
  });

  it("hides another tenant's users: 404 for their ids, never in lists", async () => {
    const mine = await tenant.createUser();
    const id = mine.body.id as string;
    const strong = { 'x-consistency': 'strong' };
    expect((await other.request('GET', `/v1/users/${id}`, { headers: strong })).status).to.equal(404);
    expect((await other.request('PATCH', `/v1/users/${id}`, { body: { isActive: false } })).status).to.equal(404);
    expect((await other.request('DELETE', `/v1/users/${id}`)).status).to.equal(404);
    expect((await other.request('POST', `/v1/users/${id}/restore`)).status).to.equal(404);
    const list = await other.request('GET', '/v1/users?pageSize=100', { headers: strong });
    expect((list.body.items as Array<{ id: string }>).map((u) => u.id)).not.to.include(id);
    expect((await tenant.request('GET', `/v1/users/${id}`, { headers: strong })).status).to.equal(200);
  });

  it('answers 404 for malformed and unknown ids', async () => {
    expect((await tenant.request('GET', '/v1/users/not-a-uuid')).status).to.equal(404);
    expect((await tenant.request('GET', '/v1/users/0190a4b8-0000-7000-8000-000000000000')).status).to.equal(404);
  });

  it('lists with pages, filters and sorting', async () => {
    const t = await gw.createTenant();
    for (let i = 0; i < 5; i++) {
      const res = await t.createUser({ username: `list-${i}`, email: `list${i}@example.com`, isActive: i % 2 === 0 });
      expect(res.status).to.equal(201);
    }
    const strong = { 'x-consistency': 'strong' };
    const page1 = await t.request('GET', '/v1/users?page=1&pageSize=2&sort=username', { headers: strong });
    expect(page1.status).to.equal(200);
    expect(page1.body).to.include({ page: 1, pageSize: 2, total: 5 });
    expect((page1.body.items as Array<{ username: string }>).map((u) => u.username)).to.deep.equal(['list-0', 'list-1']);
    const page3 = await t.request('GET', '/v1/users?page=3&pageSize=2&sort=username', { headers: strong });
    expect((page3.body.items as Array<{ username: string }>).map((u) => u.username)).to.deep.equal(['list-4']);
    const desc = await t.request('GET', '/v1/users?sort=-username', { headers: strong });
    expect((desc.body.items as Array<{ username: string }>)[0]!.username).to.equal('list-4');
    const active = await t.request('GET', '/v1/users?active=false', { headers: strong });
    expect(active.body.total).to.equal(2);
    const future = await t.request('GET', '/v1/users?createdFrom=2999-01-01', { headers: strong });
    expect(future.body.total).to.equal(0);
    const past = await t.request('GET', `/v1/users?createdTo=2000-01-01T00:00:00Z`, { headers: strong });
    expect(past.body.total).to.equal(0);
  });

  it('pages by cursor through every user exactly once, counting only when asked', async () => {
    const t = await gw.createTenant();
    const made: string[] = [];
    for (let i = 0; i < 7; i++) {
      const res = await t.createUser({ username: `cur-${i}`, email: `cur${i}@example.com` });
      expect(res.status).to.equal(201);
      made.push(res.body.id as string);
    }
    const strong = { 'x-consistency': 'strong' };
    for (const sort of ['createdAt', '-username', 'email']) {
      const seen: string[] = [];
      let cursor = '';
      for (let round = 0; round < 10; round++) {
        const res = await t.request('GET', `/v1/users?pageSize=3&sort=${sort}&cursor=${cursor}`, { headers: strong });
        expect(res.status, res.text).to.equal(200);
        expect(res.body, 'a cursor page counts nothing unless asked').not.to.have.property('total');
        expect(res.body).not.to.have.property('page');
        seen.push(...(res.body.items as Array<{ id: string }>).map((u) => u.id));
        if (res.body.nextCursor === null) break;
        cursor = res.body.nextCursor as string;
      }
      expect(seen.length, sort).to.equal(made.length);
      expect(new Set(seen), sort).to.deep.equal(new Set(made));
    }
    const counted = await t.request('GET', '/v1/users?pageSize=3&cursor=&total=true', { headers: strong });
    expect(counted.body).to.include({ total: 7 });
    const uncounted = await t.request('GET', '/v1/users?page=2&pageSize=3&total=false', { headers: strong });
    expect(uncounted.body).to.include({ page: 2, pageSize: 3 });
    expect(uncounted.body).not.to.have.property('total');
    // a cursor made for another sort order is refused, naming it
    const first = await t.request('GET', '/v1/users?pageSize=3&sort=username&cursor=', { headers: strong });
    const wrong = await t.request('GET', `/v1/users?sort=email&cursor=${first.body.nextCursor as string}`, { headers: strong });
    expect(wrong.status).to.equal(400);
    expect(wrong.body.field).to.equal('cursor');
  });

  it('refuses a page past 10,000 rows with a 400 on page that points to cursor', async () => {
    for (const query of ['page=100000', 'page=101&pageSize=100', 'page=10001', 'page=501&pageSize=20']) {
      const res = await tenant.request('GET', `/v1/users?${query}`);
      expect(res.status, query).to.equal(400);
      expect(res.body.field, query).to.equal('page');
      expect(res.body.detail, query).to.match(/cursor/);
    }
    for (const path of ['/v1/products?page=100000', '/v1/orders?page=1001&pageSize=10']) {
      const res = await tenant.request('GET', path);
      expect(res.status, path).to.equal(400);
      expect(res.body.field, path).to.equal('page');
    }
    const last = await tenant.request('GET', '/v1/users?page=100&pageSize=100');
    expect(last.status, 'the 10,000th row is still reachable by page').to.equal(200);
  });

  it('rejects bad list parameters naming the parameter', async () => {
    const cases: Array<[string, string]> = [
      ['page=0', 'page'],
      ['page=abc', 'page'],
      ['pageSize=1000', 'pageSize'],
      ['active=yes', 'active'],
      ['createdFrom=yesterday', 'createdFrom'],
      ['sort=password', 'sort'],
      ['sort=createdAt;DROP TABLE users', 'sort'],
      ['page=1&page=2', 'page'],
      ['bogus=1', 'bogus'],
    ];
    for (const [query, field] of cases) {
      const res = await tenant.request('GET', `/v1/users?${query}`);
      expect(res.status, query).to.equal(400);
      expect(res.body.field, query).to.equal(field);
    }
  });

  it('rejects bad bodies with 400 problem+json naming the field', async () => {
    const cases: Array<[unknown, string]> = [
      [{ email: 'a@example.com', password: 'long enough' }, 'username'],
      [{ username: 42, email: 'a@example.com', password: 'long enough' }, 'username'],
      [{ username: 'ab', email: 'a@example.com', password: 'long enough' }, 'username'],
      [{ username: 'bob', email: 'not-an-email', password: 'long enough' }, 'email'],
      [{ username: 'bob', email: 'b@example.com', password: 'short' }, 'password'],
      [{ username: 'bob', email: 'b@example.com', password: 'long enough', metadata: 'x' }, 'metadata'],
      [{ username: 'bob', email: 'b@example.com', password: 'long enough', metadata: { a: 'nul\u0000' } }, 'metadata'],
      [{ username: 'bob', email: 'b@example.com', password: 'long enough', isActive: 'yes' }, 'isActive'],
      [{ username: 'bob', email: 'b@example.com', password: 'long enough', tenantId: 'someone-else' }, 'tenantId'],
      [{ username: 'bob', email: 'b@example.com', password: 'long enough', id: 'x' }, 'id'],
      [[1, 2], 'body'],
    ];
    for (const [body, field] of cases) {
      const res = await tenant.request('POST', '/v1/users', { body });
      expect(res.status, JSON.stringify(body)).to.equal(400);
      expect(res.headers.get('content-type'), JSON.stringify(body)).to.match(/application\/problem\+json/);
      expect(res.body, JSON.stringify(body)).to.include({ status: 400, code: 'VALIDATION_FAILED', field });
      expect(res.body).to.include.keys('type', 'title', 'detail');
    }
  });

  it('answers malformed JSON, wrong content types and huge bodies with 4xx', async () => {
    const malformed = await tenant.request('POST', '/v1/users', { raw: '{"username": "x",', headers: { 'content-type': 'application/json' } });
    expect(malformed.status).to.equal(400);
    expect(malformed.body).to.include({ code: 'MALFORMED_JSON', field: 'body' });
    expect(malformed.text).not.to.match(/at .*\.ts:\d+/);

    const scalar = await tenant.request('POST', '/v1/users', { body: 'just a string' });
    expect(scalar.status).to.equal(400);
    expect(scalar.body.field).to.equal('body');

    const text = await tenant.request('POST', '/v1/users', { raw: 'username=x', headers: { 'content-type': 'text/plain' } });
    expect(text.status).to.equal(415);

    const huge = await tenant.request('POST', '/v1/users', { body: { username: 'x'.repeat(200_000) } });
    expect(huge.status).to.equal(413);
    expect(huge.body.code).to.equal('PAYLOAD_TOO_LARGE');

    const empty = await tenant.request('POST', '/v1/users');
    expect(empty.status).to.equal(400);
  });

  it('rejects bad PATCH input: empty patch, bad If-Match, unknown fields', async () => {
    const created = await tenant.createUser();
    const id = created.body.id as string;
    expect((await tenant.request('PATCH', `/v1/users/${id}`, { body: {} })).status).to.equal(400);
    const badMatch = await tenant.request('PATCH', `/v1/users/${id}`, { body: { isActive: false }, headers: { 'if-match': 'banana' } });
    expect(badMatch.status).to.equal(400);
    expect(badMatch.body.field).to.equal('If-Match');
    const unknown = await tenant.request('PATCH', `/v1/users/${id}`, { body: { version: 7 } });
    expect(unknown.status).to.equal(400);
    expect(unknown.body.field).to.equal('version');
  });

  it('stores injection-looking strings literally', async () => {
    const evil = "x'); DROP TABLE users; --";
    const res = await tenant.createUser({ metadata: { note: evil } });
    expect(res.status).to.equal(201);
    const got = await tenant.request('GET', `/v1/users/${res.body.id}`, { headers: { 'x-consistency': 'strong' } });
    expect((got.body.metadata as { note: string }).note).to.equal(evil);
  });

  it('requires a valid API key', async () => {
    const url = `${gw.gateway.tenantUrl}/v1/users`;
    for (const authorization of [undefined, 'Bearer', 'Bearer nope', `Bearer sg_${'A'.repeat(43)}`, `Basic ${tenant.apiKey}`]) {
      const res = await http('GET', url, authorization ? { headers: { authorization } } : {});
      expect(res.status, String(authorization)).to.equal(401);
      expect(res.headers.get('content-type')).to.match(/application\/problem\+json/);
      expect(res.body.code).to.equal('UNAUTHENTICATED');
    }
  });

  it('rejects a malformed consistency header naming it', async () => {
    const bad = await tenant.request('GET', '/v1/users', { headers: { 'x-consistency-token': 'garbage' } });
    // a made-up token in the old plain form (a far-future WAL position) is refused too
    const forged = await tenant.request('GET', '/v1/users', { headers: { 'x-consistency-token': `${tenant.shard}@FFFFFFFF/FFFFFFFF` } });
    expect([forged.status, forged.body.field]).to.deep.equal([400, 'X-Consistency-Token']);
    expect(bad.status).to.equal(400);
    expect(bad.body.field).to.equal('X-Consistency-Token');
    const badLevel = await tenant.request('GET', '/v1/users', { headers: { 'x-consistency': 'sometimes' } });
    expect(badLevel.status).to.equal(400);
    expect(badLevel.body.field).to.equal('X-Consistency');
  });

  it('answers unknown routes with 404 problem+json', async () => {
    const res = await tenant.request('GET', '/v1/nothing-here');
    expect(res.status).to.equal(404);
    expect(res.headers.get('content-type')).to.match(/application\/problem\+json/);
  });

  it('serves /healthz and /readyz', async () => {
    expect((await http('GET', `${gw.gateway.tenantUrl}/healthz`)).status).to.equal(200);
    expect((await http('GET', `${gw.gateway.tenantUrl}/readyz`)).status).to.equal(200);
  });
});
