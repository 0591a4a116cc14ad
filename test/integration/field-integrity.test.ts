import { expect } from 'chai';
import { Writable } from 'node:stream';
import { TestGateway, TestTenant, ADMIN_TOKEN, sql, testCluster, type HttpResult } from '../support/test-cluster.js';
import { createLogger } from '../../src/telemetry/logger.js';

/**
 * An encrypted value is sealed to its tenant, table, column and row: pasted anywhere else
 * (through the database, or an import under another tenant) it does not open. The read is
 * the one deliberate 500 (DATA_INTEGRITY: the stored data is corrupt, not the request), an
 * alarm names the place in the log, and every other row still reads.
 */
describe('field integrity: ciphertext moved between rows or tenants is refused', function () {
  this.timeout(30_000);
  const logLines: Array<Record<string, unknown>> = [];
  let gw: TestGateway;
  let a: TestTenant;
  let b: TestTenant;
  before(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n')) if (line) logLines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    gw = await TestGateway.start({}, createLogger('warn', sink));
    a = await gw.createTenant('integrity-a');
    b = await gw.createTenant('integrity-b');
  });
  after(async () => {
    await gw?.stop();
  });
  const adminPrimary = (t: TestTenant) => testCluster().shards.find((s) => s.id === t.shard)!.admin.primary;
  const storedOf = async (t: TestTenant, id: string) =>
    (await sql<{ tax_id: string }>(adminPrimary(t), 'SELECT tax_id FROM users WHERE tenant_id = $1 AND id = $2', [t.id, id]))[0]!.tax_id;
  const paste = (t: TestTenant, id: string, value: string) => sql(adminPrimary(t), 'UPDATE users SET tax_id = $1 WHERE tenant_id = $2 AND id = $3', [value, t.id, id]);
  const read = (t: TestTenant, id: string) => t.request('GET', `/v1/users/${id}`, { headers: { 'x-consistency': 'strong' } });
  const user = async (t: TestTenant, taxId: string) => {
    const created = await t.createUser({ taxId });
    expect(created.status, created.text).to.equal(201);
    return created.body.id as string;
  };

  function expectIntegrityProblem(res: HttpResult, secrets: string[]): void {
    expect(res.status, res.text).to.equal(500);
    expect(res.headers.get('content-type')).to.match(/^application\/problem\+json/);
    expect(res.body).to.include({ status: 500, code: 'DATA_INTEGRITY', title: 'Stored data failed an integrity check' });
    expect(res.body).not.to.have.property('field');
    for (const s of secrets) expect(res.text).not.to.include(s);
    expect(res.text).not.to.match(/enc[12]:|tax_id|at \w+ \(/);
  }

  function expectAlarm(tenantId: string, rowId: string, secrets: string[]): void {
    const alarms = logLines.filter((l) => l.alarm === 'field_integrity' && l.rowId === rowId);
    expect(alarms, JSON.stringify(logLines.slice(-5))).to.have.length.at.least(1);
    expect(alarms[0]).to.include({ level: 50, code: 'DATA_INTEGRITY', tenantId, table: 'users', column: 'tax_id', rowId });
    const all = JSON.stringify(logLines);
    for (const s of secrets) expect(all).not.to.include(s);
  }

  it("refuses a ciphertext copied into another row of the same tenant; the source row still reads", async () => {
    const source = await user(a, 'A-SECRET-1');
    const target = await user(a, 'A-SECRET-2');
    const ciphertext = await storedOf(a, source);
    await paste(a, target, ciphertext);
    const res = await read(a, target);
    expectIntegrityProblem(res, ['A-SECRET-1', 'A-SECRET-2', ciphertext]);
    expectAlarm(a.id, target, ['A-SECRET-1', 'A-SECRET-2', ciphertext]);
    expect((await read(a, source)).body.taxId).to.equal('A-SECRET-1');
    // a list that holds the row is refused as a whole, never served with the value swapped
    expectIntegrityProblem(await a.request('GET', '/v1/users?pageSize=100', { headers: { 'x-consistency': 'strong' } }), ['A-SECRET-1']);
  });

  it("refuses a ciphertext copied into another tenant's row; both tenants' other rows still read", async () => {
    const source = await user(a, 'A-SECRET-3');
    const target = await user(b, 'B-SECRET-1');
    const bystander = await user(b, 'B-SECRET-2');
    const ciphertext = await storedOf(a, source);
    await paste(b, target, ciphertext);
    expectIntegrityProblem(await read(b, target), ['A-SECRET-3', 'B-SECRET-1', ciphertext]);
    expectAlarm(b.id, target, ['A-SECRET-3', ciphertext]);
    expect((await read(b, bystander)).body.taxId).to.equal('B-SECRET-2');
    expect((await read(a, source)).body.taxId).to.equal('A-SECRET-3');
  });

  it('refuses a tampered ciphertext, and a write of a new value repairs the row', async () => {
    const id = await user(a, 'A-SECRET-4');
    const parts = (await storedOf(a, id)).split(':');
    parts[4] = Buffer.from('tampered').toString('base64url');
    await paste(a, id, parts.join(':'));
    expectIntegrityProblem(await read(a, id), ['A-SECRET-4']);
    // a write that keeps the corrupt value fails the same way (its audit snapshot reads the row), and changes nothing
    const kept = await a.request('PATCH', `/v1/users/${id}`, { body: { metadata: { x: 1 } } });
    expectIntegrityProblem(kept, ['A-SECRET-4']);
    const repaired = await a.request('PATCH', `/v1/users/${id}`, { body: { taxId: 'A-NEW-4' } });
    expect(repaired.status, repaired.text).to.equal(200);
    expect((await read(a, id)).body).to.include({ taxId: 'A-NEW-4' });
  });

  it('an export imported under another tenant keeps its rows but not their secrets', async () => {
    const source = await user(a, 'A-SECRET-5');
    const headers = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const text = await (await fetch(`${gw.gateway.adminUrl}/admin/tenants/${a.id}/export`, { headers })).text();
    const c = await gw.createTenant('integrity-c');
    const lines = text.split('\n').filter((l) => l !== '' && ((row) => row.table === 'users' && row.row.id === source)(JSON.parse(l) as { table: string; row: { id: string } }));
    expect(lines).to.have.length(1);
    const imported = await fetch(`${gw.gateway.adminUrl}/admin/tenants/${c.id}/import`, {
      method: 'POST', body: `${lines[0]!.replaceAll(JSON.stringify(a.id), JSON.stringify(c.id))}\n`, headers: { ...headers, 'content-type': 'application/x-ndjson' },
    });
    expect(imported.status, await imported.clone().text()).to.equal(200);
    expectIntegrityProblem(await read(c, source), ['A-SECRET-5']);
    expectAlarm(c.id, source, ['A-SECRET-5']);
    expect((await read(a, source)).body.taxId).to.equal('A-SECRET-5');
  });
});
