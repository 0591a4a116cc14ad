import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { ADMIN_TOKEN, http, testCluster, type HttpResult } from '../support/test-cluster.js';
import { startProcess, type Running } from '../support/gateway-process.js';
import { faults } from '../support/cluster-faults.js';
import { cacheKeys } from '../../src/cache/cache-keys.js';

/** Fleet-wide caps the two pods share: 4 requests of a tenant, 6 on a shard; without Redis each pod allows 2 and 3. */
const TENANT_CAP = 4;
const SHARD_CAP = 6;
const LEASE_TTL_MS = 3000;
const config = {
  limits: { maxConcurrentPerTenant: TENANT_CAP, shardConcurrency: SHARD_CAP, expectedPods: 2, maxQueuedPerTenant: 0, queueTimeoutMs: 0, concurrencyLeaseTtlMs: LEASE_TTL_MS },
  // key lookups stay cached through the Redis freeze
  tenants: { cacheTtlMs: 120_000 },
  // requests held on a row lock must outlive several leases without hitting the statement timeout
  db: { statementTimeoutMs: 60_000 },
};

interface Pod extends Running {
  /** every stdout line so far (JSON logs) */
  readonly lines: string[];
}

interface Tenant {
  readonly id: string;
  readonly apiKey: string;
  readonly shard: string;
  readonly userId: string;
}

interface Answer {
  readonly status: number;
  readonly code: string | undefined;
  readonly retryAfter: string | null;
  readonly type: string | null;
}

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('concurrency budget: slots leased in Redis, shared by two gateway processes', function () {
  this.timeout(240_000);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sg-budget-'));
  const locks: pg.Client[] = [];
  let redis: Redis;
  let a: Pod;
  let b: Pod;

  /** every pod started, so the after hook ends each one whatever a test left behind */
  const started: Pod[] = [];

  async function start(): Promise<Pod> {
    const running = await startProcess(dir, config);
    const lines: string[] = [];
    let rest = '';
    running.child.stdout!.on('data', (chunk: Buffer) => {
      const parts = (rest + chunk.toString()).split('\n');
      rest = parts.pop()!;
      lines.push(...parts);
    });
    const pod = { ...running, lines };
    started.push(pod);
    return pod;
  }

  async function createTenant(prefix: string): Promise<Tenant> {
    const created = await http('POST', `${a.adminUrl}/admin/tenants`, { body: { name: prefix }, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(created.status, created.text).to.equal(201);
    const apiKey = created.body.apiKey as string;
    const user = await http('POST', `${a.tenantUrl}/v1/users`, {
      headers: { authorization: `Bearer ${apiKey}` },
      body: { username: `u${Date.now()}${Math.floor(Math.random() * 1e6)}`, email: `${prefix}-${Date.now()}@example.com`, password: 'correct horse battery' },
    });
    expect(user.status, user.text).to.equal(201);
    const tenant = { id: created.body.id as string, apiKey, shard: created.body.shard as string, userId: user.body.id as string };
    // both pods resolve the key now, so a later Redis freeze finds it cached
    for (const pod of [a, b]) expect((await list(pod, tenant)).status).to.equal(200);
    // those requests' slots linger on their pods (limits.slotLingerMs) before going back: a test starts without them
    await waitFor('the new tenant\'s slots back', async () => (await tenantLeases(tenant)) === 0, 2000);
    return tenant;
  }

  /** Tenants until `n` of them live on one shard. */
  async function tenantsOnOneShard(n: number, prefix: string): Promise<Tenant[]> {
    const byShard = new Map<string, Tenant[]>();
    for (let i = 0; i < 40; i++) {
      const t = await createTenant(`${prefix}-${i}`);
      const same = [...(byShard.get(t.shard) ?? []), t];
      byShard.set(t.shard, same);
      if (same.length === n) return same;
    }
    throw new Error(`no ${n} tenants on one shard`);
  }

  const list = (pod: Pod, t: Pick<Tenant, 'apiKey'>): Promise<HttpResult> => http('GET', `${pod.tenantUrl}/v1/users?pageSize=1`, { headers: { authorization: `Bearer ${t.apiKey}` } });

  /** A PATCH of the tenant's user: it waits in the database while the row is locked, holding its slot. */
  async function patch(pod: Pod, t: Tenant, n: number): Promise<Answer> {
    try {
      const res = await fetch(`${pod.tenantUrl}/v1/users/${t.userId}`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${t.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ metadata: { n } }),
      });
      const body = (await res.json()) as { code?: string };
      return { status: res.status, code: body.code, retryAfter: res.headers.get('retry-after'), type: res.headers.get('content-type') };
    } catch {
      // the pod was killed under it
      return { status: 0, code: undefined, retryAfter: null, type: null };
    }
  }

  /** Holds the tenant's user row locked through the privileged URL, so its PATCHes wait in the database. */
  async function lock(t: Tenant): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: testCluster().shards.find((s) => s.id === t.shard)!.admin.primary });
    await client.connect();
    locks.push(client);
    await client.query('BEGIN');
    await client.query('SELECT 1 FROM users WHERE tenant_id = $1 AND id = $2 FOR UPDATE', [t.id, t.userId]);
    return client;
  }

  async function unlock(client: pg.Client): Promise<void> {
    locks.splice(locks.indexOf(client), 1);
    await client.query('COMMIT');
    await client.end();
  }

  /** Leases that still count, read from Redis as its script sees them (on Redis's clock). */
  async function liveLeases(key: string): Promise<number> {
    const [seconds, micros] = await redis.time();
    return redis.zcount(key, `(${Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)}`, '+inf');
  }
  const tenantLeases = (t: Tenant) => liveLeases(cacheKeys.tenantSlots(t.shard, t.id));

  async function metric(pod: Pod, name: string): Promise<number> {
    const res = await http('GET', `${pod.adminUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const values = res.text
      .split('\n')
      .filter((l) => l.startsWith(`shardgate_${name}`) && !l.startsWith('#'))
      .map((l) => Number(l.split(' ').pop()));
    return values.reduce((sum, v) => sum + v, 0);
  }

  function expectRefused(r: Answer, status: number, code: string): void {
    expect(r.status).to.equal(status);
    expect(r.code).to.equal(code);
    expect(r.retryAfter).to.equal('1');
    expect(r.type).to.match(/^application\/problem\+json/);
  }

  before(async () => {
    redis = new Redis(testCluster().redis);
    a = await start();
    b = await start();
  });

  after(async () => {
    faults.thawRedis();
    for (const client of locks.splice(0)) await client.end().catch(() => undefined);
    for (const pod of started) {
      if (pod.child.exitCode !== null || pod.child.signalCode !== null) continue;
      pod.child.kill('SIGKILL');
      await pod.exited;
    }
    redis?.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  afterEach(() => faults.thawRedis());

  it("caps a tenant's requests in flight across both pods, keeps long requests' slots by renewal, and gives them back when they finish", async () => {
    const t = await createTenant('cc-shared');
    const held = await lock(t);
    let settled = 0;
    const answers = Array.from({ length: 10 }, (_, i) => patch(i % 2 === 0 ? a : b, t, i).then((r) => (settled++, r)));
    try {
      // 4 hold the tenant's slots (waiting on the row lock); the 6 others are refused at once
      await waitFor('the refused requests', () => settled === 6);
      expect(await tenantLeases(t)).to.equal(TENANT_CAP);
      // held for longer than two leases: renewals keep every slot counted, and the cap holds on both pods
      const until = Date.now() + 2 * LEASE_TTL_MS;
      while (Date.now() < until) {
        expect(await tenantLeases(t)).to.equal(TENANT_CAP);
        expect((await list(a, t)).status).to.equal(429);
        expect((await list(b, t)).status).to.equal(429);
        expect((await metric(a, 'concurrency_slots_in_use')) + (await metric(b, 'concurrency_slots_in_use'))).to.equal(TENANT_CAP);
        await new Promise((r) => setTimeout(r, 250));
      }
    } finally {
      await unlock(held);
    }
    const results = await Promise.all(answers);
    expect(results.filter((r) => r.status === 200)).to.have.length(TENANT_CAP);
    const refused = results.filter((r) => r.status !== 200);
    expect(refused).to.have.length(10 - TENANT_CAP);
    for (const r of refused) expectRefused(r, 429, 'RATE_LIMITED');
    // given back, not left to expire: the key is gone (an expired lease stays a member until the next acquire)
    await waitFor('the leases released', async () => (await redis.exists(cacheKeys.tenantSlots(t.shard, t.id))) === 0, 2000);
    expect((await list(b, t)).status).to.equal(200);
    expect(await metric(a, 'concurrency_shared_mode')).to.equal(1);
  });

  it("answers 503 SHARD_BUSY with Retry-After once a shard's budget is spent by all its tenants together, and serves other shards", async () => {
    const [x, y, z] = await tenantsOnOneShard(3, 'cc-shard');
    const elsewhere = await (async () => {
      for (let i = 0; i < 40; i++) {
        const t = await createTenant(`cc-other-${i}`);
        if (t.shard !== x!.shard) return t;
      }
      throw new Error('every tenant landed on one shard');
    })();
    const lockX = await lock(x!);
    const lockY = await lock(y!);
    const pending: Array<Promise<Answer>> = [];
    try {
      // x takes its whole cap (4) and y two more: the shard's 6, across both pods
      for (let i = 0; i < TENANT_CAP; i++) pending.push(patch(i % 2 ? a : b, x!, i));
      await waitFor("x's slots", async () => (await tenantLeases(x!)) === TENANT_CAP);
      pending.push(patch(a, y!, 0), patch(b, y!, 1));
      await waitFor("y's slots", async () => (await tenantLeases(y!)) === 2);
      expect(await liveLeases(cacheKeys.shardSlots(x!.shard))).to.equal(SHARD_CAP);

      for (const pod of [a, b]) {
        const busy = await list(pod, z!);
        expect(busy.status, busy.text).to.equal(503);
        expect(busy.body).to.include({ code: 'SHARD_BUSY', status: 503 });
        expect(busy.headers.get('content-type')).to.match(/^application\/problem\+json/);
        expect(busy.headers.get('retry-after')).to.equal('1');
        // y is under its own cap: the shard refuses it, not its cap
        expect((await list(pod, y!)).body.code).to.equal('SHARD_BUSY');
        // x is over its own cap: that is what it is told
        expect((await list(pod, x!)).body.code).to.equal('RATE_LIMITED');
        expect((await list(pod, elsewhere)).status).to.equal(200);
      }
      expect(await metric(a, `shard_busy_total{shard="${x!.shard}"}`)).to.equal(2);
    } finally {
      await unlock(lockX);
      await unlock(lockY);
    }
    expect((await Promise.all(pending)).map((r) => r.status)).to.deep.equal(Array(TENANT_CAP + 2).fill(200));
    expect((await list(a, z!)).status).to.equal(200);
  });

  it("frees a SIGKILLed pod's slots within a lease's life", async () => {
    const t = await createTenant('cc-kill');
    const held = await lock(t);
    try {
      const onA = [patch(a, t, 0), patch(a, t, 1)];
      await waitFor("a's slots", async () => (await tenantLeases(t)) === 2);
      const onB = [patch(b, t, 2), patch(b, t, 3)];
      await waitFor("b's slots", async () => (await tenantLeases(t)) === TENANT_CAP);
      b.child.kill('SIGKILL');
      await b.exited;
      expect((await Promise.all(onB)).map((r) => r.status)).to.deep.equal([0, 0]);
      // nothing renews b's leases now: they end at most one lease after b's last renewal
      // (the margin is for a loaded machine, not a speed claim)
      await waitFor("b's leases to expire", async () => (await tenantLeases(t)) === 2, LEASE_TTL_MS + 2000);
      expect((await list(a, t)).status).to.equal(200);
      await unlock(held);
      expect((await Promise.all(onA)).map((r) => r.status)).to.deep.equal([200, 200]);
    } finally {
      if (locks.includes(held)) await unlock(held);
      if (b.child.exitCode !== null || b.child.signalCode !== null) b = await start();
    }
  });

  it('with Redis frozen, falls back to a per-pod budget (caps ÷ 2 pods), keeps serving, logs it once; with Redis back, the slots held meanwhile are counted and the budget is shared again', async () => {
    const t = await createTenant('cc-frozen');
    const other = await createTenant('cc-frozen-other');
    const from = { a: a.lines.length, b: b.lines.length };
    const held = await lock(t);
    faults.freezeRedis();
    // 3 on each pod: each allows its share, 2, and refuses the third
    let settled = 0;
    const pending = [a, a, a, b, b, b].map((pod, i) => patch(pod, t, i).then((r) => (settled++, r)));
    try {
      await waitFor('the refused requests', () => settled === 2);
      for (const pod of [a, b]) {
        expect((await list(pod, other)).status).to.equal(200);
        expect(await metric(pod, 'concurrency_shared_mode')).to.equal(0);
        expect(await metric(pod, 'concurrency_fallbacks_total')).to.be.at.least(3);
        expect(await metric(pod, 'concurrency_slots_in_use')).to.equal(2);
      }

      faults.thawRedis();
      // renewals add back the leases taken while Redis was out, so the shared count is true again
      await waitFor('both pods shared again, with their held slots counted', async () => {
        for (const pod of [a, b]) await list(pod, other);
        return (await metric(a, 'concurrency_shared_mode')) === 1 && (await metric(b, 'concurrency_shared_mode')) === 1 && (await tenantLeases(t)) === TENANT_CAP;
      }, 15_000);
      expect((await list(b, t)).status).to.equal(429);
    } finally {
      faults.thawRedis();
      await unlock(held);
    }
    const answers = await Promise.all(pending);
    expect(answers.map((r) => r.status).sort()).to.deep.equal([200, 200, 200, 200, 429, 429]);
    for (const r of answers.filter((x) => x.status === 429)) expectRefused(r, 429, 'RATE_LIMITED');
    for (const [pod, start] of [[a, from.a], [b, from.b]] as const) {
      const lines = pod.lines.slice(start);
      expect(lines.filter((l) => l.includes('concurrency budget: Redis failed')), 'fallback log lines').to.have.length(1);
      expect(lines.filter((l) => l.includes('concurrency budget: Redis answers again')), 'recovery log lines').to.have.length(1);
    }
  });

  it('shares the budget again once Redis is back: one pod may take the whole cap, and then the other gets none', async () => {
    const t = await createTenant('cc-back');
    const held = await lock(t);
    const pending: Array<Promise<Answer>> = [];
    try {
      for (let i = 0; i < TENANT_CAP; i++) pending.push(patch(a, t, i));
      await waitFor("a's slots", async () => (await tenantLeases(t)) === TENANT_CAP);
      const onB = await Promise.all([patch(b, t, 10), patch(b, t, 11)]);
      for (const r of onB) expectRefused(r, 429, 'RATE_LIMITED');
    } finally {
      await unlock(held);
    }
    expect((await Promise.all(pending)).map((r) => r.status)).to.deep.equal(Array(TENANT_CAP).fill(200));
  });
});
