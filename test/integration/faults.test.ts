import { expect } from 'chai';
import pg from 'pg';
import { TestGateway, TestTenant, testCluster, type HttpResult } from '../support/test-cluster.js';
import { faults } from '../support/cluster-faults.js';

interface LoopResult {
  readonly statuses: number[];
  readonly servedBy: string[];
  readonly maxMs: number;
}

/** Sends requests back to back until `ms` have passed (bounded in count and time). */
async function loop(ms: number, send: () => Promise<HttpResult>): Promise<LoopResult> {
  const statuses: number[] = [];
  const servedBy: string[] = [];
  let maxMs = 0;
  const end = Date.now() + ms;
  for (let i = 0; i < 5000 && Date.now() < end; i++) {
    const started = Date.now();
    const res = await send();
    maxMs = Math.max(maxMs, Date.now() - started);
    statuses.push(res.status);
    servedBy.push(res.headers.get('x-served-by') ?? '');
  }
  return { statuses, servedBy, maxMs };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits (up to ~10 s) until the tenant's writes succeed again; throws if they never do. */
async function writable(t: TestTenant): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if ((await t.createUser()).status === 201) return;
    await sleep(100);
  }
  throw new Error('writes never recovered');
}

describe('fault containment on the real cluster', function () {
  this.timeout(180_000);
  let gw: TestGateway;
  const byShard = new Map<string, TestTenant>();
  before(async () => {
    gw = await TestGateway.start({ routing: { healthIntervalMs: 100, healthTimeoutMs: 500 }, tenants: { cacheTtlMs: 200 } });
    for (let i = 0; i < 40 && byShard.size < 3; i++) {
      const t = await gw.createTenant('fault');
      if (!byShard.has(t.shard)) byShard.set(t.shard, t);
    }
    for (const t of byShard.values()) expect((await t.createUser()).status).to.equal(201);
  });
  after(async () => {
    await faults.restore();
    await gw?.stop();
  });

  const victim = () => byShard.get('shard-1')!;
  const others = () => [...byShard.values()].filter((t) => t.shard !== 'shard-1');

  async function inRotation(t: TestTenant): Promise<void> {
    for (let i = 0; i < 200; i++) {
      const res = await t.request('GET', '/v1/users');
      if (res.headers.get('x-served-by')?.startsWith('replica:')) return;
      await sleep(50);
    }
    throw new Error('replica never came back into rotation');
  }

  it('a killed replica costs zero failed reads', async () => {
    await inRotation(victim());
    const reads = loop(3000, () => victim().request('GET', '/v1/users'));
    await sleep(500);
    faults.kill('shard-1-replica');
    const result = await reads;
    expect(result.statuses.filter((s) => s !== 200), 'failed reads').to.deep.equal([]);
    expect(result.servedBy.at(-1)).to.equal('primary');
    await faults.restore();
    await inRotation(victim());
  });

  it('a hung replica leaves rotation within a couple of seconds, and reads keep succeeding', async () => {
    await inRotation(victim());
    faults.freeze('shard-1-replica');
    try {
      const result = await loop(3000, () => victim().request('GET', '/v1/users'));
      expect(result.statuses.filter((s) => s !== 200), 'failed reads').to.deep.equal([]);
      expect(result.servedBy.at(-1)).to.equal('primary');
    } finally {
      faults.thaw('shard-1-replica');
    }
    await inRotation(victim());
  });

  it('a hung primary gives its tenants fast 503s on writes, replica reads, and other shards no errors', async () => {
    faults.freeze('shard-1');
    try {
      await sleep(1500); // probes notice (timeout 500 ms)
      const write = await victim().createUser();
      expect(write.status).to.equal(503);
      expect(write.headers.get('retry-after')).to.match(/^\d+$/);
      expect(write.body.code).to.equal('SHARD_UNAVAILABLE');
      const writes = await loop(1000, () => victim().createUser());
      expect(writes.maxMs, 'a write waited on the dead primary').to.be.below(1000);
      const reads = await loop(1000, () => victim().request('GET', '/v1/users'));
      expect(reads.statuses.filter((s) => s !== 200)).to.deep.equal([]);
      for (const t of others()) {
        const mixed = await loop(1000, async () => ((await t.request('GET', '/v1/users')).status === 200 ? t.createUser() : t.request('GET', '/v1/users')));
        expect(mixed.statuses.filter((s) => s >= 400), `errors on ${t.shard}`).to.deep.equal([]);
      }
    } finally {
      faults.thaw('shard-1');
    }
    // and it recovers by itself
    await writable(victim());
  });

  it('writes in flight when their primary hangs end in a fast 503 (cut when the probe finds it gone), not after the 6 s query timeout', async () => {
    for (let i = 0; i < 100 && (await victim().createUser()).status !== 201; i++) await sleep(100);
    faults.freeze('shard-1');
    try {
      // sent before any probe noticed: they reach the frozen server and wait on it
      const sends = Array.from({ length: 4 }, async () => {
        const started = Date.now();
        const res = await victim().createUser();
        return { status: res.status, code: res.body.code, ms: Date.now() - started };
      });
      const answers = await Promise.all(sends);
      expect(answers.map((a) => [a.status, a.code])).to.deep.equal(Array(4).fill([503, 'SHARD_UNAVAILABLE']));
      // statement timeout 5 s + 1 s client-side: a cut connection answers well before that
      expect(Math.max(...answers.map((a) => a.ms)), JSON.stringify(answers)).to.be.below(4000);
    } finally {
      faults.thaw('shard-1');
    }
    await writable(victim());
  });

  it('with the catalog down, known tenants are still served and admin writes get 503', async () => {
    const t = victim();
    expect((await t.request('GET', '/v1/users')).status).to.equal(200); // cached
    faults.freeze('catalog');
    try {
      await sleep(300); // past the tenant cache TTL: the next lookup must fall back
      const result = await loop(1500, () => t.request('GET', '/v1/users'));
      expect(result.statuses.filter((s) => s !== 200)).to.deep.equal([]);
      const admin = await gw.admin('POST', '/admin/tenants', { name: 'during outage' });
      expect(admin.status).to.equal(503);
      expect(admin.headers.get('retry-after')).to.match(/^\d+$/);
    } finally {
      faults.thaw('catalog');
    }
  });
});

describe('the placement write lease', function () {
  this.timeout(60_000);
  after(() => faults.thaw('catalog'));

  it('a gateway that cannot confirm its placement past the lease refuses writes (503 PLACEMENT_STALE), serves reads, and writes again once the catalog answers', async () => {
    const gw = await TestGateway.start({ placement: { refreshIntervalMs: 100, writeLeaseMs: 1000, tombstoneMarginMs: 0 }, tenants: { cacheTtlMs: 200 } });
    try {
      const t = await gw.createTenant('lease');
      expect((await t.createUser()).status).to.equal(201);
      faults.freeze('catalog');
      let write: HttpResult;
      try {
        await sleep(1600); // past the lease: the poll hangs on the frozen catalog
        write = await t.createUser();
        const read = await t.request('GET', '/v1/users');
        expect(read.status, 'reads go on').to.equal(200);
      } finally {
        faults.thaw('catalog');
      }
      expect(write.status, write.text).to.equal(503);
      expect(write.body.code).to.equal('PLACEMENT_STALE');
      expect(write.headers.get('retry-after')).to.match(/^\d+$/);
      // writable again once the catalog answers
      await writable(t);
    } finally {
      await gw.stop();
    }
  });
});

describe('statement timeouts', function () {
  this.timeout(60_000);
  it('a query past the statement timeout is a 504 problem, and the row lock holder is untouched', async () => {
    const gw = await TestGateway.start({ db: { statementTimeoutMs: 500 } });
    const t = await gw.createTenant();
    const created = await t.request('POST', '/v1/products', { body: { name: 'locked', price: 1, stock: 1 } });
    const primary = testCluster().shards.find((s) => s.id === t.shard)!.admin.primary;
    const holder = new pg.Client({ connectionString: primary });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM products WHERE tenant_id = $1 AND id = $2 FOR UPDATE', [t.id, created.body.id]);
      const res = await t.request('PATCH', `/v1/products/${created.body.id}`, { body: { stock: 2 } });
      expect(res.status).to.equal(504);
      expect(res.body.code).to.equal('QUERY_TIMEOUT');
      expect(res.headers.get('content-type')).to.match(/problem\+json/);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
      await gw.stop();
    }
  });
});
