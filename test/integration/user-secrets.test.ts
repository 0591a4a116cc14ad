import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { TestGateway, TestTenant, sql, testCluster } from '../support/test-cluster.js';

describe('users: encrypted tax ids and sessions', function () {
  let gw: TestGateway;
  let tenant: TestTenant;
  before(async () => {
    gw = await TestGateway.start();
    tenant = await gw.createTenant();
  });
  after(async () => {
    await gw?.stop();
  });
  const primary = () => testCluster().shards.find((s) => s.id === tenant.shard)!.admin.primary;

  it('stores a tax id as ciphertext only and returns it decrypted', async () => {
    const taxId = `DE${Math.floor(Math.random() * 1e9)}`;
    const created = await tenant.createUser({ taxId });
    expect(created.status).to.equal(201);
    expect(created.body.taxId).to.equal(taxId);
    const [row] = await sql<{ tax_id: string }>(primary(), 'SELECT tax_id FROM users WHERE tenant_id = $1 AND id = $2', [tenant.id, created.body.id]);
    expect(row!.tax_id).to.match(/^enc2:dev:/);
    expect(row!.tax_id).not.to.include(taxId);
    const got = await tenant.request('GET', `/v1/users/${created.body.id}`, { headers: { 'x-consistency': 'strong' } });
    expect(got.body.taxId).to.equal(taxId);
    // never in the audit trail either
    const audit = await sql(primary(), `SELECT old_values, new_values FROM audit_log WHERE tenant_id = $1 AND record_id = $2`, [tenant.id, created.body.id]);
    expect(JSON.stringify(audit)).not.to.include(taxId);
    expect(JSON.stringify(audit)).not.to.match(/enc[12]:/);

    const cleared = await tenant.request('PATCH', `/v1/users/${created.body.id}`, { body: { taxId: null } });
    expect(cleared.body.taxId).to.equal(null);
  });

  it("removes a user's sessions when the user is deleted (afterDestroy hook)", async () => {
    const created = await tenant.createUser();
    const userId = created.body.id as string;
    for (let i = 0; i < 2; i++) {
      await sql(
        primary(),
        `INSERT INTO sessions (tenant_id, id, user_id, token_hash, expires_at, created_at, updated_at)
         VALUES ($1, $2, $3, 'h', now() + interval '1 day', now(), now())`,
        [tenant.id, randomUUID(), userId],
      );
    }
    const count = async () => (await sql<{ n: number }>(primary(), 'SELECT count(*)::int AS n FROM sessions WHERE tenant_id = $1 AND user_id = $2', [tenant.id, userId]))[0]!.n;
    expect(await count()).to.equal(2);
    expect((await tenant.request('DELETE', `/v1/users/${userId}`)).status).to.equal(204);
    expect(await count()).to.equal(0);
  });
});
