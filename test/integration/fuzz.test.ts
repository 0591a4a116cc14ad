import { expect } from 'chai';
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { TestGateway, TestTenant, type Json } from '../support/test-cluster.js';
import { INJECTIONS, UNICODE_EDGES, headerText, hostileString, mutatedBody, rawBody } from '../support/hostile-input.js';

/**
 * Property-based fuzzing of every tenant endpoint with hostile input. For every answer:
 * never a 5xx; every error is problem+json with {type, title, status, detail, code} and a
 * 400 names its field; nothing of another tenant ever comes back; accepted hostile strings
 * are stored literally. Bounded: about 350 requests.
 *
 * The endpoints come from the running gateway's route tables (what its apps mounted), so a
 * route added later is fuzzed without being listed here, and one removed is noticed.
 */

/** Routes the contract names (README, CONTRACT.md): each must be in the running gateway's tables. */
const CONTRACT_ROUTES = {
  tenant: [
    'POST /v1/users', 'GET /v1/users', 'GET /v1/users/:id', 'PATCH /v1/users/:id', 'DELETE /v1/users/:id', 'POST /v1/users/:id/restore',
    'POST /v1/products', 'GET /v1/products', 'GET /v1/products/:id', 'PATCH /v1/products/:id', 'DELETE /v1/products/:id', 'POST /v1/products/:id/restore',
    'POST /v1/products/batch', 'PATCH /v1/products/batch', 'DELETE /v1/products/batch',
    'POST /v1/orders', 'GET /v1/orders', 'GET /v1/orders/:id',
    'GET /v1/analytics/top-customers', 'GET /v1/analytics/revenue-by-month', 'GET /v1/analytics/product-ranking',
    'GET /v1/audit', 'GET /healthz', 'GET /readyz',
    'POST /v1/users/:id/comments', 'GET /v1/users/:id/comments', 'POST /v1/products/:id/comments', 'GET /v1/products/:id/comments',
    'POST /v1/orders/:id/comments', 'GET /v1/orders/:id/comments', 'GET /v1/comments', 'DELETE /v1/comments/:id',
    'POST /v1/series', 'GET /v1/series', 'GET /v1/series/:series',
    'POST /v1/transfers', 'GET /v1/transfers', 'GET /v1/transfers/:id',
  ],
  admin: [
    'POST /admin/tenants', 'GET /admin/tenants/:id', 'PATCH /admin/tenants/:id',
    'POST /admin/tenants/:id/keys', 'GET /admin/tenants/:id/keys', 'DELETE /admin/tenants/:id/keys/:keyId',
    'GET /admin/shards', 'POST /admin/shards', 'POST /admin/shards/:id/drain', 'POST /admin/rebalance', 'POST /admin/tenants/:id/move',
    'GET /admin/jobs/:id', 'GET /admin/ring', 'GET /admin/tenants/:id/export', 'POST /admin/tenants/:id/import', 'GET /metrics',
    'GET /healthz', 'GET /readyz',
    'POST /admin/partnerships', 'DELETE /admin/partnerships', 'GET /admin/transactions', 'GET /admin/transactions/:id',
  ],
} as const;

/** Single-record deletes and restores take no body: the id-path test sends those. */
const WRITES_WITHOUT_BODY = /\/:id(\/restore)?$/;

interface Sent {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: string | undefined;
}

interface Answer {
  readonly status: number;
  readonly type: string;
  readonly text: string;
}

/** FUZZ_SCALE=10 fuzzes ten times as long (and FUZZ_SEED=n replays a run) */
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
const SEED = process.env.FUZZ_SEED === undefined ? {} : { seed: Number(process.env.FUZZ_SEED) };
const RUNS = Object.fromEntries(
  Object.entries({ bodies: 90, raw: 45, paths: 50, crossTenant: 30, queries: 50, headers: 40, roundTrip: 20 }).map(([k, n]) => [k, { numRuns: Math.ceil(n * SCALE), ...SEED }]),
) as Record<'bodies' | 'raw' | 'paths' | 'crossTenant' | 'queries' | 'headers' | 'roundTrip', fc.Parameters<unknown>>;

describe('fuzz: hostile input on every tenant endpoint', function () {
  this.timeout(180_000);
  let gw: TestGateway;
  let tenant: TestTenant;
  let other: TestTenant;
  const own = { users: [] as string[], products: [] as string[], orders: [] as string[] };
  const theirs = { users: [] as string[], products: [] as string[], orders: [] as string[] };
  /** what must never appear in an answer to this tenant (unless the request itself carried it) */
  const secrets: string[] = [];
  const statuses = new Map<number, number>();
  /** the other tenant's product ids this tenant has since upserted rows of its own under */
  const adopted = new Set<string>();
  let tokens: { own: string; theirs: string };
  /** the running gateway's tenant routes, as `METHOD /path` */
  let routes: string[] = [];
  let HAS_ORDERS = false;
  let HAS_ANALYTICS = false;

  async function seed(t: TestTenant, into: typeof own, marker: string): Promise<string> {
    let token = '';
    for (let i = 0; i < 2; i++) {
      const u = await t.createUser({ username: `${marker}u${i}${randomUUID().slice(0, 6)}`, metadata: { secret: `${marker}-meta-${i}` } });
      expect(u.status, u.text).to.equal(201);
      into.users.push(u.body.id as string);
      if (marker === 'zzother') secrets.push(u.body.username as string, u.body.email as string);
      const p = await t.request('POST', '/v1/products', { body: { name: `${marker}-product-${randomUUID()}`, price: 5, stock: 1000, attributes: { owner: marker } } });
      expect(p.status, p.text).to.equal(201);
      into.products.push(p.body.id as string);
      token = p.headers.get('x-consistency-token') ?? token;
      if (marker === 'zzother') secrets.push(p.body.name as string);
    }
    if (HAS_ORDERS) {
      const o = await t.request('POST', '/v1/orders', { body: { customerId: into.users[0], items: [{ productId: into.products[0], quantity: 1 }] } });
      expect(o.status, o.text).to.equal(201);
      into.orders.push(o.body.id as string);
    }
    return token;
  }

  before(async () => {
    gw = await TestGateway.start();
    routes = gw.gateway.routes.tenant.entries.map((r) => `${r.method} ${r.path}`);
    HAS_ORDERS = gw.gateway.routes.tenant.has('POST', '/v1/orders');
    HAS_ANALYTICS = routes.some((r) => r.startsWith('GET /v1/analytics/'));
    tenant = await gw.createTenant('fuzz');
    other = await gw.createTenant('fuzz-other');
    secrets.push(other.id, other.apiKey);
    const ownToken = await seed(tenant, own, 'mine');
    const theirToken = await seed(other, theirs, 'zzother');
    secrets.push(...theirs.users, ...theirs.products, ...theirs.orders, 'zzother');
    tokens = { own: ownToken, theirs: theirToken };
  });

  after(async () => {
    if (statuses.size > 0) console.log(`      fuzz statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`);
    await gw?.stop();
  });

  /** Sends one request; undefined when the HTTP client itself refuses it (no request was made). */
  async function send(s: Sent): Promise<Answer | undefined> {
    let res: Response;
    try {
      res = await fetch(gw.gateway.tenantUrl + s.path, { method: s.method, headers: s.headers, body: s.body, redirect: 'manual' });
    } catch (err) {
      if (err instanceof TypeError && !/fetch failed/.test(err.message)) return undefined;
      throw err;
    }
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type') ?? '', text };
  }

  /** The checks every answer must pass. */
  function check(s: Sent, a: Answer): void {
    statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
    const where = `${s.method} ${s.path.slice(0, 200)} headers=${JSON.stringify(s.headers).slice(0, 300)} body=${(s.body ?? '').slice(0, 300)} → ${a.status} ${a.text.slice(0, 400)}`;
    expect(a.status, where).to.be.below(500);
    if (a.status >= 400) {
      expect(a.type, where).to.match(/^application\/problem\+json/);
      const problem = JSON.parse(a.text) as Json;
      expect(problem, where).to.include.all.keys('type', 'title', 'status', 'detail', 'code');
      expect(problem.status, where).to.equal(a.status);
      if (a.status === 400) expect(problem.field, where).to.be.a('string').and.not.equal('');
    }
    const sent = `${s.path} ${s.body ?? ''} ${JSON.stringify(s.headers)}`.toLowerCase();
    const answer = a.text.toLowerCase();
    for (const secret of secrets) {
      if (!sent.includes(secret.toLowerCase())) expect(answer.includes(secret.toLowerCase()), `${where}\nleaked ${secret}`).to.equal(false);
    }
  }

  async function exchange(s: Sent): Promise<Answer | undefined> {
    const a = await send(s);
    if (a !== undefined) check(s, a);
    return a;
  }

  const auth = () => ({ authorization: `Bearer ${tenant.apiKey}` });
  const json = { 'content-type': 'application/json' };
  const pick = <T>(list: readonly T[]) => fc.constantFrom(...list);

  /** Write endpoints and a valid body for each (the mutations start from it). */
  interface WriteEndpoint {
    readonly method: string;
    readonly path: () => fc.Arbitrary<string>;
    readonly template: () => Record<string, unknown>;
  }

  /** A concrete path for a route: `:id` becomes one of this tenant's ids of that resource (a fresh uuid elsewhere). */
  function concretePath(route: string): fc.Arbitrary<string> {
    const resource = /^\/v1\/(\w+)\//.exec(route)?.[1] as keyof typeof own | undefined;
    const ids = resource !== undefined && own[resource]?.length ? pick(own[resource]) : fc.uuid();
    return route.includes(':') ? ids.map((id) => route.replace(/:\w+/g, id)) : fc.constant(route);
  }

  function writeEndpoints(): WriteEndpoint[] {
    // valid bodies the mutations start from: every write route needs one
    const templates: Record<string, () => Record<string, unknown>> = {
      'POST /v1/users': () => ({ username: `f${randomUUID().slice(0, 8)}`, email: `f${randomUUID().slice(0, 8)}@example.com`, password: 'long enough secret', metadata: { a: 1 } }),
      'PATCH /v1/users/:id': () => ({ metadata: { b: 2 }, isActive: true }),
      'POST /v1/products': () => ({ name: 'Fuzz', price: '9.99', stock: 3, categoryId: 'c', attributes: { k: 'v' }, metadata: { m: [1] } }),
      'PATCH /v1/products/:id': () => ({ stock: 4, attributes: { k: 'w' } }),
      'POST /v1/products/batch': () => ({ items: [{ name: 'B', price: 1, stock: 1 }], upsert: false }),
      'PATCH /v1/products/batch': () => ({ ids: [own.products[0]], set: { stock: 7 } }),
      'DELETE /v1/products/batch': () => ({ ids: [randomUUID()] }),
      'POST /v1/orders': () => ({ customerId: own.users[0], items: [{ productId: own.products[1], quantity: 1 }] }),
      'POST /v1/users/:id/comments': () => ({ body: 'fuzz comment' }),
      'POST /v1/products/:id/comments': () => ({ body: 'fuzz comment' }),
      'POST /v1/orders/:id/comments': () => ({ body: 'fuzz comment' }),
      'PATCH /v1/comments/:id': () => ({ body: 'edited' }),
      'POST /v1/series': () => ({ points: [{ series: 'fuzz.s', ts: Date.now(), value: 1, labels: { k: 'v' } }] }),
      // no partnership: a valid body gets its 403, the mutations their 400s
      'POST /v1/transfers': () => ({ supplier: 'fuzz-supplier', items: [{ productId: own.products[0], quantity: 1, intoProductId: own.products[1] }], protocol: 'saga' }),
    };
    // every route that takes a body: writes, less single-record deletes and restores (the id-path test sends those)
    const writes = gw.gateway.routes.tenant.entries.filter((r) => r.path.startsWith('/v1/') && ['POST', 'PUT', 'PATCH', 'DELETE'].includes(r.method) && !(r.method !== 'PATCH' && WRITES_WITHOUT_BODY.test(r.path)));
    return writes.map((r) => {
      const template = templates[`${r.method} ${r.path}`];
      // a new write route must bring its valid body here: mutations of {} would test nothing
      if (template === undefined) throw new Error(`fuzz: no body template for ${r.method} ${r.path}`);
      return { method: r.method, path: () => concretePath(r.path), template };
    });
  }

  it('finds every route the contract names in the running gateway, and fuzzes each tenant route', () => {
    const admin = gw.gateway.routes.admin.entries.map((r) => `${r.method} ${r.path}`);
    expect(routes).to.include.members([...CONTRACT_ROUTES.tenant]);
    expect(admin).to.include.members([...CONTRACT_ROUTES.admin]);
    // the routes the tests below send to, with a body template for each that has one above
    expect(writeEndpoints().length, 'write endpoints').to.be.at.least(8);
    expect(routes.filter((r) => /^GET \/v1\/[^:]*$/.test(r)).length, 'list endpoints').to.be.at.least(6);
  });

  it('survives malformed, mistyped, oversized and injected JSON bodies', async () => {
    const endpoints = writeEndpoints();
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: endpoints.length - 1 }).chain((i) => fc.tuple(fc.constant(endpoints[i]!), endpoints[i]!.path(), mutatedBody(endpoints[i]!.template()))),
        async ([endpoint, p, body]) => {
          await exchange({ method: endpoint.method, path: p, headers: { ...auth(), ...json }, body: JSON.stringify(body) });
        },
      ),
      RUNS.bodies,
    );
  });

  it('survives bodies that are not JSON at all', async () => {
    const endpoints = writeEndpoints();
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: endpoints.length - 1 }).chain((i) => fc.tuple(fc.constant(endpoints[i]!), endpoints[i]!.path(), rawBody(endpoints[i]!.template()))),
        async ([endpoint, p, raw]) => {
          await exchange({ method: endpoint.method, path: p, headers: { ...auth(), ...json }, body: raw });
        },
      ),
      RUNS.raw,
    );
  });

  /** Path ids: own, the other tenant's (in any case), random, and segments that are no id at all. */
  const idSegment = () =>
    fc.oneof(
      pick([...own.users, ...own.products, ...own.orders]),
      pick([...theirs.users, ...theirs.products, ...theirs.orders]),
      pick([...theirs.users, ...theirs.products]).map((id) => id.toUpperCase()),
      fc.uuid(),
      pick(['%', '%ZZ', '%E0%A4%A', '%C0%80', '%ED%A0%80', '%00', '..', '%2e%2e', 'batch', 'restore', ' ', '%20', 'a'.repeat(3000), "1'%20OR%20'1'='1", '%F0%9F%98%80']),
      hostileString.map((s) => (s.isWellFormed() ? encodeURIComponent(s) : 'x')),
    );

  it('answers every verb on every id path honestly', async () => {
    // every resource with a single-record read
    const resources = routes.map((r) => /^GET \/v1\/(\w+)\/:id$/.exec(r)?.[1]).filter((r): r is string => r !== undefined);
    expect(resources).to.include.members(['users', 'products', 'orders']);
    await fc.assert(
      fc.asyncProperty(pick(resources), idSegment(), pick(['GET', 'PATCH', 'DELETE', 'PUT', 'OPTIONS', 'POST']), fc.boolean(), async (resource, id, method, restore) => {
        const p = `/v1/${resource}/${id}${method === 'POST' && restore ? '/restore' : ''}`;
        const body = method === 'PATCH' || method === 'POST' ? JSON.stringify({ metadata: { x: 1 } }) : undefined;
        await exchange({ method, path: p, headers: { ...auth(), ...(body ? json : {}) }, body });
      }),
      RUNS.paths,
    );
  });

  it("never reads, changes or reveals another tenant's rows by their real ids", async () => {
    const attempts: Array<fc.Arbitrary<Sent>> = [
      fc.tuple(pick(['users', 'products']), pick(['GET', 'PATCH', 'DELETE', 'POST']), fc.boolean()).chain(([resource, method, upper]) =>
        pick(resource === 'users' ? theirs.users : theirs.products).map((id) => ({
          method,
          path: `/v1/${resource}/${upper ? id.toUpperCase() : id}${method === 'POST' ? '/restore' : ''}`,
          headers: { ...auth(), ...json },
          body: method === 'PATCH' ? JSON.stringify({ metadata: { hijacked: true } }) : method === 'POST' ? '{}' : undefined,
        })),
      ),
      fc.tuple(pick(['PATCH', 'DELETE']), fc.subarray(theirs.products, { minLength: 1 })).map(([method, ids]) => ({
        method,
        path: '/v1/products/batch',
        headers: { ...auth(), ...json },
        body: JSON.stringify(method === 'PATCH' ? { ids: [...ids, own.products[0]], set: { stock: 0 } } : { ids }),
      })),
      pick(theirs.products).map((id) => ({
        method: 'POST',
        path: '/v1/products/batch',
        headers: { ...auth(), ...json },
        body: JSON.stringify({ upsert: true, items: [{ id, name: 'hijack', price: 1, stock: 1 }] }),
      })),
    ];
    if (HAS_ORDERS) {
      attempts.push(
        fc.tuple(pick([...theirs.users, own.users[0]!]), pick([...theirs.products, own.products[0]!])).map(([customerId, productId]) => ({
          method: 'POST',
          path: '/v1/orders',
          headers: { ...auth(), ...json },
          body: JSON.stringify({ customerId, items: [{ productId, quantity: 1 }] }),
        })),
        pick(theirs.orders).map((id) => ({ method: 'GET', path: `/v1/orders/${id}`, headers: auth() })),
        pick(theirs.users).map((id) => ({ method: 'GET', path: `/v1/orders?customerId=${id}`, headers: auth() })),
      );
    }
    await fc.assert(
      fc.asyncProperty(fc.oneof(...attempts), async (s) => {
        const a = await exchange(s);
        if (a === undefined) return;
        // upserting an id another tenant uses makes a row of this tenant's own under that id (a 409 or 404
        // would tell the client that the id exists elsewhere); from then on the id is this tenant's too
        const upsert = (s.body ?? '').includes('"upsert":true');
        if (upsert && a.status === 200) {
          const id = (JSON.parse(s.body!) as { items: Array<{ id: string }> }).items[0]!.id;
          expect((JSON.parse(a.text) as { items: Json[] }).items[0]).to.include({ id, name: 'hijack' });
          if (!adopted.has(id)) secrets.splice(secrets.indexOf(id), 1);
          adopted.add(id);
          return;
        }
        const sent = `${s.path} ${s.body ?? ''}`.toLowerCase();
        const touched = [...theirs.users, ...theirs.products, ...theirs.orders].filter((id) => !adopted.has(id) && sent.includes(id));
        // a filter by another tenant's customer id is just a filter that matches nothing here
        if (touched.length > 0 && !upsert && !s.path.includes('customerId=')) expect(a.status, `${s.method} ${s.path} ${s.body}`).to.be.at.least(400);
      }),
      RUNS.crossTenant,
    );

    // and the other tenant's rows are exactly as it left them
    for (const id of theirs.users) {
      const got = await other.request('GET', `/v1/users/${id}`, { headers: { 'x-consistency': 'strong' } });
      expect(got.status, got.text).to.equal(200);
      expect(got.body.version).to.equal(0);
    }
    for (const id of theirs.products) {
      const got = await other.request('GET', `/v1/products/${id}`, { headers: { 'x-consistency': 'strong' } });
      expect(got.status, got.text).to.equal(200);
      expect(got.body).to.include({ stock: HAS_ORDERS && id === theirs.products[0] ? 999 : 1000 });
      expect(got.body.name).to.match(/^zzother-product-/);
    }
  });

  it('survives hostile query strings on every list and analytics endpoint', async () => {
    // every read without a path parameter: the lists and the analytics reports
    const lists = routes.filter((r) => /^GET \/v1\/[^:]*$/.test(r)).map((r) => r.slice('GET '.length));
    expect(lists).to.include.members(['/v1/users', '/v1/products', ...(HAS_ORDERS ? ['/v1/orders'] : []), ...(HAS_ANALYTICS ? ['/v1/analytics/top-customers'] : [])]);
    const param = pick(['page', 'pageSize', 'cursor', 'sort', 'active', 'createdFrom', 'createdTo', 'q', 'categoryId', 'status', 'customerId', 'limit', 'year', 'minOrders', 'tenantId', 'unknown']);
    const forgedCursor = fc
      .tuple(pick(['createdAt', '-createdAt', 'name', '-price', 'price', 'stock', 'updatedAt', 'total']), fc.oneof(hostileString, fc.double(), fc.integer(), fc.constant(null), fc.constant({}), fc.constantFrom('1e400', 'Infinity')), fc.oneof(fc.uuid(), pick(theirs.products)))
      .map((c) => Buffer.from(JSON.stringify(c)).toString('base64url'));
    const value = fc.oneof(
      hostileString.map((s) => (s.isWellFormed() ? encodeURIComponent(s) : '%ED%A0%80')),
      pick(['%00', '%FF', '%', '%ZZ', '-1', '0', '1e3', '999999999999', '2024-02-30', '0000-01-01', '9999-12-31T23:59:59+14:00', 'true', 'TRUE', '-name', 'name;DROP', '']),
      forgedCursor,
      pick(theirs.users),
    );
    const query = fc.array(fc.tuple(param, value), { maxLength: 4 }).map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('&'));
    await fc.assert(
      fc.asyncProperty(pick(lists), query, pick(['', 'strong', 'eventual', 'STRONG', 'weak']), async (p, q, consistency) => {
        const headers: Record<string, string> = { ...auth(), ...(consistency ? { 'x-consistency': consistency } : {}) };
        await exchange({ method: 'GET', path: `${p}?${q}`, headers });
      }),
      RUNS.queries,
    );
  });

  it('survives bad headers: If-Match, consistency, Idempotency-Key, Content-Type, Authorization', async () => {
    const endpoints = writeEndpoints();
    const key = tenant.apiKey;
    const authorization = fc.oneof(
      { weight: 4, arbitrary: fc.constant(`Bearer ${key}`) },
      {
        weight: 3,
        arbitrary: pick([
          '', 'Bearer', 'Bearer ', `bearer ${key}`, `Bearer  ${key}  `, `Bearer ${key}x`, `Bearer ${key.slice(0, -1)}`, `Bearer ${key.toUpperCase()}`, key,
          `Basic ${Buffer.from(`${tenant.id}:${key}`).toString('base64')}`, `Bearer ${key} ${key}`, `Bearer ${'a'.repeat(3000)}`, 'Bearer null', "Bearer ' OR 1=1 --", 'Token abc',
        ]),
      },
    );
    const headers = fc.record(
      {
        'if-match': fc.oneof(pick(['"0"', '*', 'W/"1"', '"-1"', '"99999999999"', '', '"1", "2"', ' "3" ', '"abc"', '0x1']), headerText),
        'x-consistency': fc.oneof(pick(['strong', 'eventual', 'Strong', '', 'linearizable']), headerText),
        'x-consistency-token': fc.oneof(
          pick([tokens.own, tokens.theirs, 'shard-1@0/0', 'shard-9@FFFFFFFF/FFFFFFFF', 'shard-1@', '@0/0', 'shard-1@ZZ/ZZ', 'shard-1@0/0@0/0', `${tokens.own}x`]),
          headerText,
        ),
        'idempotency-key': fc.oneof(fc.uuid(), headerText),
        'content-type': fc.oneof(
          pick([
            'application/json', 'application/json; charset=utf-8', 'text/plain', 'application/json; charset=utf-16', 'application/json; charset=latin1',
            'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/merge-patch+json', '', 'application/jsonx', '*/*', 'application/problem+json',
          ]),
          headerText,
        ),
        'x-request-id': headerText,
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: endpoints.length - 1 }).chain((i) => fc.tuple(fc.constant(endpoints[i]!), endpoints[i]!.path())),
        headers,
        authorization,
        async ([endpoint, p], h, authHeader) => {
          const all: Record<string, string> = { ...h, ...(authHeader ? { authorization: authHeader } : {}) };
          await exchange({ method: endpoint.method, path: p, headers: all, body: JSON.stringify(endpoint.template()) });
          // reads take the consistency headers too
          const { 'content-type': _, 'idempotency-key': __, ...readHeaders } = all;
          await exchange({ method: 'GET', path: p.replace('/batch', ''), headers: readHeaders });
        },
      ),
      RUNS.headers,
    );
  });

  it('stores accepted injection and unicode strings literally', async () => {
    const text = fc.oneof(pick(INJECTIONS), pick(UNICODE_EDGES), hostileString);
    const metadata = fc.dictionary(text, fc.oneof(text, fc.array(text, { maxLength: 3 })), { maxKeys: 3 });
    await fc.assert(
      fc.asyncProperty(text, text, fc.dictionary(text, text, { maxKeys: 3 }), metadata, text, async (name, description, attributes, meta, emailLocal) => {
        const body = { name, description, price: 1, stock: 1, categoryId: name.slice(0, 60) || null, attributes, metadata: meta };
        const sent: Sent = { method: 'POST', path: '/v1/products', headers: { ...auth(), ...json }, body: JSON.stringify(body) };
        const created = await exchange(sent);
        if (created?.status === 201) {
          const id = (JSON.parse(created.text) as Json).id as string;
          const got = await exchange({ method: 'GET', path: `/v1/products/${id}`, headers: { ...auth(), 'x-consistency': 'strong' } });
          expect(got?.status).to.equal(200);
          const stored = JSON.parse(got!.text) as Json;
          expect({ name: stored.name, description: stored.description, categoryId: stored.categoryId, attributes: stored.attributes, metadata: stored.metadata }).to.deep.equal({
            name, description, categoryId: body.categoryId, attributes, metadata: meta,
          });
          // and searching for it is just a search
          const found = await exchange({ method: 'GET', path: `/v1/products?q=${name.isWellFormed() && name.trim() ? encodeURIComponent(name.slice(0, 100)) : 'x'}`, headers: auth() });
          expect(found?.status).to.be.oneOf([200, 400]);
        }
        const local = emailLocal.replace(/[@\s]/g, '').slice(0, 40) || 'x';
        const user = await exchange({
          method: 'POST', path: '/v1/users', headers: { ...auth(), ...json },
          body: JSON.stringify({ username: `u${randomUUID().slice(0, 8)}`, email: `${local}@example.com`, password: 'long enough secret', metadata: meta }),
        });
        if (user?.status === 201) {
          const u = JSON.parse(user.text) as Json;
          const got = await exchange({ method: 'GET', path: `/v1/users/${u.id as string}`, headers: { ...auth(), 'x-consistency': 'strong' } });
          expect((JSON.parse(got!.text) as Json).metadata).to.deep.equal(meta);
          expect((JSON.parse(got!.text) as Json).email).to.equal(u.email);
        }
      }),
      RUNS.roundTrip,
    );
  });

  it('regressions the fuzzer found', async () => {
    // a path parameter that is not valid percent-encoding was an unhandled URIError: 500
    for (const bad of ['%E0%A4%A', '%', '%ZZ', '%C0%80']) {
      const a = await exchange({ method: 'GET', path: `/v1/users/${bad}`, headers: auth() });
      expect(a?.status).to.equal(400);
      expect(JSON.parse(a!.text)).to.include({ code: 'VALIDATION_FAILED', field: 'path' });
    }
    // a forged cursor with a number for a text sort key compared text > integer in SQL: 500
    const forged = Buffer.from(JSON.stringify(['name', 12, randomUUID()])).toString('base64url');
    expect((await exchange({ method: 'GET', path: `/v1/products?sort=name&cursor=${forged}`, headers: auth() }))?.status).to.equal(200);
    const infinite = Buffer.from('["price",1e400,"0190a4b8-0000-7000-8000-0000000000ab"]').toString('base64url');
    const a = await exchange({ method: 'GET', path: `/v1/products?sort=price&cursor=${infinite}`, headers: auth() });
    expect(JSON.parse(a!.text)).to.include({ status: 400, field: 'cursor' });
    // year 0 passed validation and PostgreSQL's refusal named `body`
    const zero = await exchange({ method: 'GET', path: '/v1/users?createdFrom=0000-01-01', headers: auth() });
    expect(JSON.parse(zero!.text)).to.include({ status: 400, field: 'createdFrom' });
    // a `__proto__` key was dropped by the record copy: 201, and the data silently not stored
    const proto = [
      ['{"name":"p","price":1,"stock":1,"metadata":{"__proto__":"x","keep":1}}', 'metadata'],
      ['{"name":"p","price":1,"stock":1,"metadata":{"a":{"__proto__":{"polluted":true}}}}', 'metadata'],
      ['{"name":"p","price":1,"stock":1,"attributes":{"__proto__":"x"}}', 'attributes'],
    ] as const;
    for (const [body, field] of proto) {
      const res = await exchange({ method: 'POST', path: '/v1/products', headers: { ...auth(), ...json }, body });
      expect(JSON.parse(res!.text), body).to.include({ status: 400, field });
    }
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
  });

  it('answers what the HTTP parser refuses as problem+json too', async () => {
    // Node's own answers were an empty 431 and an empty 400
    const big = await send({ method: 'GET', path: '/v1/users', headers: { ...auth(), 'x-padding': 'x'.repeat(20_000) } });
    expect(big?.status).to.equal(431);
    expect(big?.type).to.match(/^application\/problem\+json/);
    expect(JSON.parse(big!.text)).to.include({ status: 431, code: 'HEADERS_TOO_LARGE' });

    const { port } = new URL(gw.gateway.tenantUrl);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => socket.write('GET /v1/users HTTP/1.1\r\nHost: x\r\nBroken header line\r\n\r\n'));
      let out = '';
      socket.on('data', (chunk) => (out += chunk.toString()));
      socket.on('end', () => resolve(out));
      socket.on('error', reject);
    });
    expect(raw).to.match(/^HTTP\/1\.1 400 /);
    expect(raw).to.match(/content-type: application\/problem\+json/i);
    expect(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4))).to.include({ status: 400, code: 'MALFORMED_REQUEST', field: 'request' });
  });
});
