import { expect } from 'chai';
import { TestGateway, TestTenant, ADMIN_TOKEN, sql, testCluster } from '../support/test-cluster.js';
import { legacySealed } from '../support/sealed-fields.js';
import { waitForJob } from '../support/moves.js';

/** Encrypted columns as stored: enc2 sealed to the row, enc1 still read and resealed on the next write. */
describe('encrypted columns: enc2 at rest, enc1 read and upgraded', function () {
  this.timeout(30_000);
  let gw: TestGateway;
  let tenant: TestTenant;
  before(async () => {
    gw = await TestGateway.start();
    tenant = await gw.createTenant('sealed');
  });
  after(async () => {
    await gw?.stop();
  });
  const primary = () => testCluster().shards.find((s) => s.id === tenant.shard)!.admin.primary;
  const stored = async (id: string) =>
    (await sql<{ tax_id: string | null }>(primary(), 'SELECT tax_id FROM users WHERE tenant_id = $1 AND id = $2', [tenant.id, id]))[0]!.tax_id;
  const read = (id: string) => tenant.request('GET', `/v1/users/${id}`, { headers: { 'x-consistency': 'strong' } });

  it('stores enc2 ciphertext, never the plaintext, and reads it back (single read and list)', async () => {
    const created = await tenant.createUser({ taxId: 'DE-enc2-1234' });
    expect(created.status, created.text).to.equal(201);
    expect(created.body.taxId).to.equal('DE-enc2-1234');
    const value = await stored(created.body.id as string);
    expect(value).to.match(/^enc2:dev:[\w-]+:[\w-]{22}:[\w-]+$/);
    expect(value).not.to.include('DE-enc2-1234');
    expect((await read(created.body.id as string)).body.taxId).to.equal('DE-enc2-1234');
    const list = await tenant.request('GET', '/v1/users?pageSize=100', { headers: { 'x-consistency': 'strong' } });
    expect((list.body.items as Array<{ id: string; taxId: string }>).find((u) => u.id === created.body.id)!.taxId).to.equal('DE-enc2-1234');
  });

  it('reseals on every write of the value: a new ciphertext each time, the old one gone', async () => {
    const created = await tenant.createUser({ taxId: 'first' });
    const id = created.body.id as string;
    const before = await stored(id);
    const patched = await tenant.request('PATCH', `/v1/users/${id}`, { body: { taxId: 'second' } });
    expect(patched.status, patched.text).to.equal(200);
    const after = await stored(id);
    expect(after).to.match(/^enc2:/).and.not.equal(before);
    expect((await read(id)).body.taxId).to.equal('second');
  });

  it('reads an old-format (enc1) value and upgrades it to enc2 when the row is next written', async () => {
    const created = await tenant.createUser({ taxId: null });
    const id = created.body.id as string;
    await sql(primary(), 'UPDATE users SET tax_id = $1 WHERE tenant_id = $2 AND id = $3', [legacySealed(gw, 'DE-legacy-77'), tenant.id, id]);
    expect(await stored(id)).to.match(/^enc1:dev:/);
    const got = await read(id);
    expect(got.status, got.text).to.equal(200);
    expect(got.body.taxId).to.equal('DE-legacy-77');
    // a read alone changes nothing
    expect(await stored(id)).to.match(/^enc1:/);

    // a write of another field upgrades the value, in the same UPDATE
    const patched = await tenant.request('PATCH', `/v1/users/${id}`, { body: { metadata: { touched: true } }, headers: { 'if-match': `"${got.body.version as number}"` } });
    expect(patched.status, patched.text).to.equal(200);
    expect(patched.body.taxId).to.equal('DE-legacy-77');
    const upgraded = await stored(id);
    expect(upgraded).to.match(/^enc2:dev:/).and.not.include('DE-legacy-77');
    expect((await read(id)).body.taxId).to.equal('DE-legacy-77');

    // and the audit trail records the metadata change, never the tax id or its ciphertext
    const audit = await sql<{ action: string; old_values: unknown; new_values: unknown }>(
      primary(), 'SELECT action, old_values, new_values FROM audit_log WHERE tenant_id = $1 AND record_id = $2 ORDER BY id', [tenant.id, id],
    );
    expect(audit.map((a) => a.action)).to.deep.equal(['create', 'update']);
    expect(audit[1]!.old_values).to.deep.equal({ metadata: {} });
    expect(JSON.stringify(audit)).not.to.include('DE-legacy-77').and.not.match(/enc[12]:/);
  });

  it('export and import carry the ciphertext: imported into the same tenant, it still reads', async () => {
    const created = await tenant.createUser({ taxId: 'DE-roundtrip' });
    const id = created.body.id as string;
    const headers = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const text = await (await fetch(`${gw.gateway.adminUrl}/admin/tenants/${tenant.id}/export`, { headers })).text();
    const line = text.split('\n').map((l) => (l ? (JSON.parse(l) as { table: string; row: Record<string, unknown> }) : undefined)).find((l) => l?.table === 'users' && l.row.id === id)!;
    expect(line.row.tax_id).to.equal(await stored(id));
    const imported = await fetch(`${gw.gateway.adminUrl}/admin/tenants/${tenant.id}/import?replace=true`, {
      method: 'POST', body: text, headers: { ...headers, 'content-type': 'application/x-ndjson' },
    });
    expect(imported.status, await imported.clone().text()).to.equal(200);
    expect((await read(id)).body.taxId).to.equal('DE-roundtrip');
  });

  it('moves with its tenant: the ciphertext copied to another shard opens there (same tenant, table, column, row)', async () => {
    const mover = await gw.createTenant('sealed-move');
    const created = await mover.createUser({ taxId: 'DE-moving' });
    const id = created.body.id as string;
    const to = testCluster().shards.map((s) => s.id).find((s) => s !== mover.shard)!;
    const res = await gw.admin('POST', `/admin/tenants/${mover.id}/move`, { to });
    expect(res.status, res.text).to.equal(202);
    const job = await waitForJob(gw, res.body.jobId as string);
    expect(job.state, JSON.stringify(job)).to.equal('succeeded');
    const got = await mover.request('GET', `/v1/users/${id}`, { headers: { 'x-consistency': 'strong' } });
    expect([got.status, got.headers.get('x-shard'), got.body.taxId]).to.deep.equal([200, to, 'DE-moving']);
  });
});
