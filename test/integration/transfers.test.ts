import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { faults } from '../support/cluster-faults.js';
import { startProcess } from '../support/gateway-process.js';
import { TestGateway, TestTenant, sql, testCluster, type Json } from '../support/test-cluster.js';

const strong = { 'x-consistency': 'strong' };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Transfers between tenants (issue 16): a saga and two-phase commit behind one API, the
// coordinator's log in the catalog, and a recovery loop that finishes what a pod left.
describe('transfers between tenants: saga and two-phase commit', function () {
  this.timeout(120_000);
  let gw: TestGateway;
  let supplier: TestTenant;
  let buyer: TestTenant;
  let neighbour: TestTenant; // on the supplier's shard
  const TX = { recoveryIntervalMs: 300, leaseMs: 2000, requestWaitMs: 1500 };

  const product = async (t: TestTenant, stock: number): Promise<string> => {
    const res = await t.request('POST', '/v1/products', { body: { name: `p-${Math.random()}`, price: 2.5, stock } });
    expect(res.status, res.text).to.equal(201);
    return res.body.id as string;
  };
  const stockOf = async (t: TestTenant, id: string): Promise<{ stock: number; reserved: number }> => {
    const res = await t.request('GET', `/v1/products/${id}`, { headers: strong });
    expect(res.status, res.text).to.equal(200);
    return { stock: res.body.stock as number, reserved: res.body.reserved as number };
  };
  const transfer = (t: TestTenant, body: Json, headers: Record<string, string> = {}) => t.request('POST', '/v1/transfers', { body, headers });
  const preparedLeft = async (): Promise<string[]> => {
    const out: string[] = [];
    for (const s of testCluster().shards) out.push(...(await sql<{ gid: string }>(s.admin.primary, "SELECT gid FROM pg_prepared_xacts WHERE gid LIKE 'sg_%'")).map((r) => r.gid));
    return out;
  };

  before(async () => {
    gw = await TestGateway.start({ transactions: TX });
    supplier = await gw.createTenant('supplier');
    for (let i = 0; i < 20; i++) {
      const t = await gw.createTenant('buyer');
      if (t.shard !== supplier.shard && buyer === undefined) buyer = t;
      if (t.shard === supplier.shard && neighbour === undefined) neighbour = t;
      if (buyer !== undefined && neighbour !== undefined) break;
    }
    expect(buyer, 'a buyer on another shard').to.not.equal(undefined);
    expect(neighbour, 'a buyer on the same shard').to.not.equal(undefined);
  });
  after(async () => {
    await gw?.stop();
  });

  it('partnerships: 403 without one; created (201), repeated (409), unknown tenant (404), self (400), listed, deleted', async () => {
    const from = await product(supplier, 5);
    const into = await product(buyer, 0);
    const refused = await transfer(buyer, { supplier: supplier.id, items: [{ productId: from, quantity: 1, intoProductId: into }] });
    expect([refused.status, refused.body.code]).to.deep.equal([403, 'NOT_PARTNERS']);

    let res = await gw.admin('POST', '/admin/partnerships', { supplier: supplier.id, buyer: buyer.id });
    expect(res.status, res.text).to.equal(201);
    res = await gw.admin('POST', '/admin/partnerships', { supplier: supplier.id, buyer: buyer.id });
    expect([res.status, res.body.field]).to.deep.equal([409, 'buyer']);
    res = await gw.admin('POST', '/admin/partnerships', { supplier: supplier.id, buyer: 'nobody-at-all' });
    expect(res.status).to.equal(404);
    res = await gw.admin('POST', '/admin/partnerships', { supplier: supplier.id, buyer: supplier.id });
    expect([res.status, res.body.field]).to.deep.equal([400, 'buyer']);
    res = await gw.admin('POST', '/admin/partnerships', { supplier: neighbour.id, buyer: supplier.id });
    expect(res.status).to.equal(201);
    res = await gw.admin('DELETE', '/admin/partnerships', { supplier: neighbour.id, buyer: supplier.id });
    expect(res.status).to.equal(204);
    res = await gw.admin('DELETE', '/admin/partnerships', { supplier: neighbour.id, buyer: supplier.id });
    expect(res.status).to.equal(404);
    const list = await gw.admin('GET', '/admin/partnerships');
    expect((list.body.items as Json[]).some((p) => p.supplier === supplier.id && p.buyer === buyer.id)).to.equal(true);
    expect((await gw.admin('POST', '/admin/partnerships', { supplier: supplier.id, buyer: neighbour.id })).status).to.equal(201);
  });

  for (const protocol of ['saga', '2pc'] as const) {
    it(`${protocol}: commits across two shards, audited on both sides, visible to both parties only`, async () => {
      const from = await product(supplier, 10);
      const into = await product(buyer, 1);
      const res = await transfer(buyer, { supplier: supplier.id, protocol, items: [{ productId: from, quantity: 4, intoProductId: into }] });
      expect(res.status, res.text).to.equal(201);
      expect(res.body).to.include({ state: 'committed', protocol, supplier: supplier.id, buyer: buyer.id });
      const actions = (res.body.steps as Json[]).filter((s) => s.state === 'done').map((s) => s.action);
      expect(actions).to.include.members(protocol === 'saga' ? ['reserve', 'apply', 'confirm'] : ['prepare sale', 'prepare purchase', 'commit sale', 'commit purchase']);
      expect(await stockOf(supplier, from)).to.deep.equal({ stock: 6, reserved: 0 });
      expect(await stockOf(buyer, into)).to.deep.equal({ stock: 5, reserved: 0 });

      const id = res.body.id as string;
      for (const party of [buyer, supplier]) {
        const seen = await party.request('GET', `/v1/transfers/${id}`);
        expect([seen.status, seen.body.state]).to.deep.equal([200, 'committed']);
      }
      expect((await neighbour.request('GET', `/v1/transfers/${id}`)).status, 'a third tenant').to.equal(404);
      const asSupplier = await supplier.request('GET', '/v1/transfers?role=supplier');
      expect((asSupplier.body.items as Json[]).map((t) => t.id)).to.include(id);
      const asBuyer = await supplier.request('GET', '/v1/transfers?role=buyer');
      expect((asBuyer.body.items as Json[]).map((t) => t.id)).to.not.include(id);

      for (const [party, productId] of [[supplier, from], [buyer, into]] as const) {
        const trail = await party.request('GET', `/v1/audit?table=products&recordId=${productId}`, { headers: strong });
        const entry = (trail.body.items as Json[]).find((e) => (e.new as Json | null)?.transfer === id);
        expect(entry, `${party.id}'s audit of the transfer`).to.not.equal(undefined);
      }
      const logged = await gw.admin('GET', `/admin/transactions/${id}`);
      expect(logged.body).to.include({ state: 'committed', protocol, decision: protocol === '2pc' ? 'commit' : null });
      expect(await preparedLeft()).to.deep.equal([]);
    });

    it(`${protocol}: insufficient stock is a 409 and changes nothing on either side`, async () => {
      const a = await product(supplier, 10);
      const b = await product(supplier, 1);
      const into = await product(buyer, 2);
      const res = await transfer(buyer, {
        supplier: supplier.id, protocol,
        items: [{ productId: a, quantity: 3, intoProductId: into }, { productId: b, quantity: 2, intoProductId: into }],
      });
      expect([res.status, res.body.code, res.body.field], res.text).to.deep.equal([409, 'INSUFFICIENT_STOCK', 'items[1].quantity']);
      expect(await stockOf(supplier, a)).to.deep.equal({ stock: 10, reserved: 0 });
      expect(await stockOf(supplier, b)).to.deep.equal({ stock: 1, reserved: 0 });
      expect(await stockOf(buyer, into)).to.deep.equal({ stock: 2, reserved: 0 });
      const list = await buyer.request('GET', '/v1/transfers?role=buyer&state=aborted');
      expect((list.body.items as Json[]).some((t) => (t.error as Json | undefined)?.code === 'INSUFFICIENT_STOCK')).to.equal(true);
      expect(await preparedLeft()).to.deep.equal([]);
    });

    it(`${protocol}: an Idempotency-Key replays the first transfer, a different body with it is a 409`, async () => {
      const from = await product(supplier, 10);
      const into = await product(buyer, 0);
      const body = { supplier: supplier.id, protocol, items: [{ productId: from, quantity: 2, intoProductId: into }] };
      const key = { 'idempotency-key': `k-${Math.random()}` };
      const first = await transfer(buyer, body, key);
      const again = await transfer(buyer, body, key);
      expect([first.status, again.status]).to.deep.equal([201, 201]);
      expect(again.body.id).to.equal(first.body.id);
      expect(await stockOf(supplier, from)).to.deep.equal({ stock: 8, reserved: 0 });
      expect(await stockOf(buyer, into)).to.deep.equal({ stock: 2, reserved: 0 });
      const other = await transfer(buyer, { ...body, items: [{ productId: from, quantity: 3, intoProductId: into }] }, key);
      expect([other.status, other.body.field]).to.deep.equal([409, 'Idempotency-Key']);
    });

    it(`${protocol}: between two tenants of one shard`, async () => {
      const from = await product(supplier, 3);
      const into = await product(neighbour, 0);
      const res = await transfer(neighbour, { supplier: supplier.id, protocol, items: [{ productId: from, quantity: 3, intoProductId: into }] });
      expect(res.status, res.text).to.equal(201);
      expect(await stockOf(supplier, from)).to.deep.equal({ stock: 0, reserved: 0 });
      expect(await stockOf(neighbour, into)).to.deep.equal({ stock: 3, reserved: 0 });
    });
  }

  for (const protocol of ['saga', '2pc'] as const) {
    it(`${protocol}: a buyer fenced by a move makes its step wait and retry, and the transfer commits once the fence lifts`, async () => {
      const from = await product(supplier, 5);
      const into = await product(buyer, 0);
      const url = testCluster().shards.find((s) => s.id === buyer.shard)!.admin.primary;
      await sql(url, "INSERT INTO tenant_fences (tenant_id, move_id) VALUES ($1, 'transfer-test')", [buyer.id]);
      const answer = transfer(buyer, { supplier: supplier.id, protocol, items: [{ productId: from, quantity: 2, intoProductId: into }] });
      try {
        await sleep(600);
      } finally {
        await sql(url, 'DELETE FROM tenant_fences WHERE tenant_id = $1', [buyer.id]);
      }
      const res = await answer;
      expect(res.status, res.text).to.equal(201);
      expect((res.body.steps as Json[]).some((s) => s.state === 'waiting'), 'a step waited on the fence').to.equal(true);
      expect(await stockOf(supplier, from)).to.deep.equal({ stock: 3, reserved: 0 });
      expect(await stockOf(buyer, into)).to.deep.equal({ stock: 2, reserved: 0 });
      expect(await preparedLeft()).to.deep.equal([]);
    });
  }

  it('2pc: concurrent transfers over the same rows on two shards all commit (sides prepared in one global order: no deadlock across shards)', async () => {
    const from = await product(supplier, 40);
    const into = await product(buyer, 0);
    const results = await Promise.all(
      Array.from({ length: 12 }, () => transfer(buyer, { supplier: supplier.id, protocol: '2pc', items: [{ productId: from, quantity: 1, intoProductId: into }] })),
    );
    expect(results.map((r) => `${r.status} ${String(r.body.state ?? r.body.code)}`)).to.deep.equal(Array(12).fill('201 committed'));
    expect(await stockOf(supplier, from)).to.deep.equal({ stock: 28, reserved: 0 });
    expect(await stockOf(buyer, into)).to.deep.equal({ stock: 12, reserved: 0 });
    expect(await preparedLeft()).to.deep.equal([]);
  });

  it('an Idempotency-Key is honoured across gateways', async () => {
    const other = await TestGateway.start({ transactions: TX });
    try {
      const from = await product(supplier, 10);
      const into = await product(buyer, 0);
      const body = { supplier: supplier.id, items: [{ productId: from, quantity: 1, intoProductId: into }] };
      const key = { 'idempotency-key': `pods-${Math.random()}` };
      const first = await transfer(buyer, body, key);
      const elsewhere = await fetch(`${other.gateway.tenantUrl}/v1/transfers`, {
        method: 'POST',
        headers: { authorization: `Bearer ${buyer.apiKey}`, 'content-type': 'application/json', ...key },
        body: JSON.stringify(body),
      });
      expect([first.status, elsewhere.status]).to.deep.equal([201, 201]);
      expect(((await elsewhere.json()) as Json).id).to.equal(first.body.id);
      expect(await stockOf(supplier, from)).to.deep.equal({ stock: 9, reserved: 0 });
    } finally {
      await other.stop();
    }
  });

  it('saga: a product of the buyer that does not exist compensates the reservation (400 naming the item)', async () => {
    const from = await product(supplier, 5);
    const res = await transfer(buyer, { supplier: supplier.id, items: [{ productId: from, quantity: 2, intoProductId: '0190a4b8-0000-7000-8000-00000000dead' }] });
    expect([res.status, res.body.field], res.text).to.deep.equal([400, 'items[0].intoProductId']);
    expect(await stockOf(supplier, from)).to.deep.equal({ stock: 5, reserved: 0 });
    const [tx] = (await gw.admin('GET', '/admin/transactions?state=compensated&limit=1')).body.items as Json[];
    expect((tx!.steps as Json[]).map((s) => `${String(s.action)}:${String(s.state)}`)).to.include.members(['reserve:done', 'apply:failed', 'reverse:done', 'release:done']);
  });

  it('bad input is a 400 naming the field', async () => {
    const cases: Array<[Json, string]> = [
      [{ items: [] }, 'supplier'],
      [{ supplier: supplier.id, items: [] }, 'items'],
      [{ supplier: supplier.id, items: [{ productId: 'x', quantity: 1, intoProductId: 'y' }] }, 'items[0].productId'],
      [{ supplier: supplier.id, items: [{ productId: '0190a4b8-0000-7000-8000-000000000001', quantity: 0, intoProductId: '0190a4b8-0000-7000-8000-000000000002' }] }, 'items[0].quantity'],
      [{ supplier: supplier.id, protocol: '3pc', items: [{ productId: '0190a4b8-0000-7000-8000-000000000001', quantity: 1, intoProductId: '0190a4b8-0000-7000-8000-000000000002' }] }, 'protocol'],
    ];
    for (const [body, field] of cases) {
      const res = await transfer(buyer, body);
      expect([res.status, res.body.field], JSON.stringify(body)).to.deep.equal([400, field]);
    }
  });

  describe('recovery', () => {
    const waitForState = async (id: string, ms: number): Promise<Json> => {
      const deadline = Date.now() + ms;
      for (;;) {
        const res = await gw.admin('GET', `/admin/transactions/${id}`);
        if (res.body.state !== 'pending' || Date.now() > deadline) return res.body;
        await sleep(200);
      }
    };

    for (const [when, hook] of [['after both sides prepared, before the decision', 'afterPrepare'], ['after the decision, before the second phase', 'afterDecision']] as const) {
      it(`2pc: a gateway that stops ${when}: another gateway's recovery finishes it (committed, stock conserved, nothing left prepared)`, async () => {
        let reached: (id: string) => void = () => undefined;
        const atHook = new Promise<string>((resolve) => (reached = resolve));
        let release: () => void = () => undefined;
        const first = await TestGateway.start({ transactions: TX }, undefined, {
          twoPhaseHooks: {
            [hook]: async (tx: { id: string }) => {
              // the pod stops here: its recovery loop too, and this drive never goes on
              await first.gateway.recovery.stop();
              reached(tx.id);
              await new Promise<void>((resolve) => (release = resolve));
              throw new Error('this pod is gone');
            },
          },
        });
        // (the partnership test made it when the whole file runs)
        expect((await gw.admin('POST', '/admin/partnerships', { supplier: supplier.id, buyer: buyer.id })).status).to.be.oneOf([201, 409]);
        const from = await product(supplier, 9);
        const into = await product(buyer, 0);
        const answer = fetch(`${first.gateway.tenantUrl}/v1/transfers`, {
          method: 'POST',
          headers: { authorization: `Bearer ${buyer.apiKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({ supplier: supplier.id, protocol: '2pc', items: [{ productId: from, quantity: 4, intoProductId: into }] }),
        }).catch(() => undefined);
        try {
          const id = await Promise.race([
            atHook,
            answer.then(async (r) => {
              throw new Error(`answered without stopping: ${r?.status} ${await r?.text()}`);
            }),
          ]);
          if (hook === 'afterPrepare') {
            // undecided: both sides stay prepared until the lease lapses (a decided one any pod's sweep may finish at once)
            const mine = (await preparedLeft()).filter((g) => g.includes(id.replaceAll('-', '')));
            expect(mine).to.have.length(2);
          }
          const ended = await waitForState(id, 20_000);
          expect(ended.state, JSON.stringify(ended)).to.equal('committed');
          expect(ended.decision).to.equal('commit');
          const owners = new Set((ended.steps as Json[]).map((s) => s.owner));
          expect(owners.size, 'steps by two gateways').to.equal(2);
          expect(await stockOf(supplier, from)).to.deep.equal({ stock: 5, reserved: 0 });
          expect(await stockOf(buyer, into)).to.deep.equal({ stock: 4, reserved: 0 });
          expect(await preparedLeft()).to.deep.equal([]);
        } finally {
          release();
          await answer;
          await first.stop();
        }
      });
    }

    /** Waits until no transaction is pending; then the buyer's transfers of `from` and what they did to stock. */
    const settled = async (from: string, ms = 60_000): Promise<{ committed: number; states: string[] }> => {
      const deadline = Date.now() + ms;
      while (((await gw.admin('GET', '/admin/transactions?state=pending&limit=100')).body.items as Json[]).length > 0) {
        if (Date.now() > deadline) throw new Error(`still pending: ${JSON.stringify((await gw.admin('GET', '/admin/transactions?state=pending&limit=5')).body)}`);
        await sleep(250);
      }
      const mine = ((await buyer.request('GET', '/v1/transfers?role=buyer&limit=100')).body.items as Json[]).filter((t) => (t.items as Json[])[0]!.productId === from);
      return { committed: mine.filter((t) => t.state === 'committed').length, states: mine.map((t) => t.state as string) };
    };
    const expectConserved = async (from: string, into: string, initial: number, committed: number) => {
      expect(await stockOf(supplier, from)).to.deep.equal({ stock: initial - committed, reserved: 0 });
      expect(await stockOf(buyer, into)).to.deep.equal({ stock: committed, reserved: 0 });
      expect(await preparedLeft()).to.deep.equal([]);
    };

    it('24 concurrent transfers, both protocols, while the buyer’s primary hangs (SIGSTOP): each ends committed or undone once it is back, stock conserved, nothing left prepared', async () => {
      expect((await gw.admin('POST', '/admin/partnerships', { supplier: supplier.id, buyer: buyer.id })).status).to.be.oneOf([201, 409]);
      const from = await product(supplier, 100);
      const into = await product(buyer, 0);
      const sends = Array.from({ length: 24 }, (_, i) =>
        transfer(buyer, { supplier: supplier.id, protocol: i % 2 === 0 ? 'saga' : '2pc', items: [{ productId: from, quantity: 1, intoProductId: into }] }),
      );
      await sleep(20);
      faults.freeze(buyer.shard);
      try {
        await sleep(3000);
      } finally {
        faults.thaw(buyer.shard);
      }
      const answers = await Promise.all(sends);
      // committed, pending (finished by recovery), or given up before anything applied (two-phase commit presumes
      // abort when a side cannot prepare in time: a 503/504 saying so, with the transfer's id); or refused
      // at the door by the tenant's concurrency cap (429: no transfer begun)
      const refused = answers.filter((a) => a.status === 429 && a.body.code === 'RATE_LIMITED').length;
      const odd = answers.filter(
        (a) => ![201, 202].includes(a.status) && !(a.status === 429 && a.body.code === 'RATE_LIMITED') && !([503, 504].includes(a.status) && /aborted: nothing changed/.test(String(a.body.detail))),
      );
      expect(odd.map((a) => a.body), JSON.stringify(odd.map((a) => [a.status, a.body])).slice(0, 1500)).to.deep.equal([]);
      const { committed, states } = await settled(from);
      expect(states).to.have.length(24 - refused);
      expect(states.every((st) => ['committed', 'compensated', 'aborted'].includes(st))).to.equal(true);
      await expectConserved(from, into, 100, committed);
    });

    it('16 concurrent transfers at a gateway process SIGKILLed mid-way: another gateway finishes or undoes each, stock conserved, nothing left prepared', async () => {
      expect((await gw.admin('POST', '/admin/partnerships', { supplier: supplier.id, buyer: buyer.id })).status).to.be.oneOf([201, 409]);
      const from = await product(supplier, 100);
      const into = await product(buyer, 0);
      const dir = mkdtempSync(path.join(os.tmpdir(), 'sg-transfers-'));
      const proc = await startProcess(dir, { transactions: TX });
      try {
        const sends = Array.from({ length: 16 }, (_, i) =>
          fetch(`${proc.tenantUrl}/v1/transfers`, {
            method: 'POST',
            headers: { authorization: `Bearer ${buyer.apiKey}`, 'content-type': 'application/json' },
            body: JSON.stringify({ supplier: supplier.id, protocol: i % 2 === 0 ? '2pc' : 'saga', items: [{ productId: from, quantity: 1, intoProductId: into }] }),
          }).then((r) => r.status, () => 0),
        );
        await sleep(60);
        proc.child.kill('SIGKILL');
        await proc.exited;
        const statuses = await Promise.all(sends);
        expect(statuses.filter((s) => s !== 0 && s !== 201 && s !== 202)).to.deep.equal([]);
      } finally {
        proc.child.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      }
      const { committed, states } = await settled(from);
      expect(states.every((st) => ['committed', 'compensated', 'aborted'].includes(st))).to.equal(true);
      await expectConserved(from, into, 100, committed);
    });

    it('2pc: a prepared transaction the log never heard of is rolled back by the sweep', async () => {
      const from = await product(supplier, 7);
      const gid = 'sg_0190a4b8000070008000000000000bad_s';
      // prepared as the gateway's own role (only its owner or a superuser may finish it), as a dead pod would leave it
      const url = testCluster().shards.find((s) => s.id === supplier.shard)!.primary;
      const { default: pg } = await import('pg');
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query('BEGIN');
        await client.query("SELECT set_config('shardgate.tenant_id', $1, true)", [supplier.id]);
        await client.query('UPDATE products SET stock = stock - 7 WHERE tenant_id = $1 AND id = $2', [supplier.id, from]);
        await client.query(`PREPARE TRANSACTION '${gid}'`);
      } finally {
        await client.end();
      }
      expect(await preparedLeft()).to.include(gid);
      const deadline = Date.now() + 15_000;
      while ((await preparedLeft()).includes(gid) && Date.now() < deadline) await sleep(200);
      expect(await preparedLeft()).to.deep.equal([]);
      expect(await stockOf(supplier, from)).to.deep.equal({ stock: 7, reserved: 0 });
    });
  });
});
