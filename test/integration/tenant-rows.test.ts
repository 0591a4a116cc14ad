import { expect } from 'chai';
import { openAdminClient, type AdminClient } from '../../src/rebalance/shard-sql/admin-client.js';
import { deleteTenantRows } from '../../src/rebalance/shard-sql/tenant-rows.js';
import { PgTls } from '../../src/transport/pg-tls.js';
import { testCluster } from '../support/test-cluster.js';

// The batched delete that move cleanup, rollback and tenant erase run, on a partitioned
// table: a ctid is unique per partition only, so each partition's first row has the same one.
describe('deleting a tenant’s rows from a partitioned table', () => {
  let client: AdminClient;
  before(async () => {
    client = await openAdminClient(testCluster().shards[0]!.admin.primary, { statementTimeoutMs: 10_000, connectTimeoutMs: 5000, tls: PgTls.fromConfig({ mode: 'disable' }, 5000) }, 'test');
    // temporary: no other test's move or policy check sees it
    await client.query(`CREATE TEMP TABLE ctid_probe (tenant_id text NOT NULL, day int NOT NULL, v int NOT NULL) PARTITION BY RANGE (day);
      CREATE TEMP TABLE ctid_probe_1 PARTITION OF ctid_probe FOR VALUES FROM (1) TO (2);
      CREATE TEMP TABLE ctid_probe_2 PARTITION OF ctid_probe FOR VALUES FROM (2) TO (3);
      INSERT INTO ctid_probe VALUES ('a', 1, 1), ('b', 2, 2), ('a', 2, 3);`);
  });
  after(async () => {
    await client?.end();
  });

  it('removes every row of the tenant and none of another tenant’s at the same ctid in another partition', async () => {
    const same = await client.query<{ ctid: string }>("SELECT ctid::text FROM ctid_probe WHERE v IN (1, 2) ORDER BY v");
    expect(same.rows[0]!.ctid, 'the two rows share a ctid').to.equal(same.rows[1]!.ctid);
    const table = { name: 'ctid_probe', columns: ['tenant_id', 'day', 'v'], key: [], parents: [], textColumns: [] };
    await deleteTenantRows(client, 'a', [table]);
    const left = await client.query<{ tenant_id: string; v: number }>('SELECT tenant_id, v FROM ctid_probe ORDER BY v');
    expect(left.rows).to.deep.equal([{ tenant_id: 'b', v: 2 }]);
  });
});
