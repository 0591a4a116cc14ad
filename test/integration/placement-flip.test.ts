import { expect } from 'chai';
import { CatalogDatabase } from '../../src/catalog/catalog-database.js';
import { PinStore, ringFingerprint } from '../../src/catalog/pin-store.js';
import type { ShardRow } from '../../src/catalog/catalog-rows.js';
import { PgTls } from '../../src/transport/pg-tls.js';
import { TestGateway, sql, testCluster } from '../support/test-cluster.js';

// A move's flip inside its tenant's write pause is one catalog statement (issue 19): the pin,
// the placement history and the version, written only if the active shards are still those
// the pin was decided on before the pause.
describe('the placement flip (one statement, guarded by the ring it was decided on)', function () {
  this.timeout(60_000);
  let gw: TestGateway;
  let db: CatalogDatabase;
  let pins: PinStore;
  before(async () => {
    gw = await TestGateway.start();
    db = new CatalogDatabase({ url: testCluster().catalog, poolMax: 2, connectTimeoutMs: 5000, statementTimeoutMs: 5000, tls: PgTls.fromConfig({ mode: 'disable' }) });
    pins = new PinStore(db);
  });
  after(async () => {
    await db?.close();
    await gw?.stop();
  });

  const catalogNow = async (tenantId: string) => {
    const [meta] = await sql<{ version: string }>(testCluster().catalog, 'SELECT version::text AS version FROM catalog_meta');
    const pin = await sql<{ shard_id: string; reason: string }>(testCluster().catalog, 'SELECT shard_id, reason FROM pins WHERE tenant_id = $1', [tenantId]);
    const history = await sql<{ shard_id: string; open: boolean }>(testCluster().catalog, 'SELECT shard_id, to_at IS NULL AS open FROM tenant_placements WHERE tenant_id = $1 ORDER BY from_at', [tenantId]);
    return { version: BigInt(meta!.version), pin: pin[0], history };
  };
  const ring = async () => ringFingerprint(await sql<ShardRow>(testCluster().catalog, 'SELECT id, weight, state FROM shards'));

  it('writes nothing when the active shards changed since the decision, and the pin, history and version at once when not', async () => {
    const tenant = await gw.createTenant('flip');
    const before = await catalogNow(tenant.id);
    expect(before.pin).to.equal(undefined);

    // decided on another ring (a shard added or drained since): nothing written
    expect(await pins.place(tenant.id, tenant.shard, 'move:test', `${await ring()},shard-99@100`)).to.equal(undefined);
    expect(await catalogNow(tenant.id)).to.deep.equal(before);

    // the ring as it is: pinned where it already lives (no placement change: the history stays one open row)
    const version = await pins.place(tenant.id, tenant.shard, 'move:test', await ring());
    const pinned = await catalogNow(tenant.id);
    expect(version).to.equal(pinned.version);
    expect(pinned.version > before.version).to.equal(true);
    expect(pinned.pin).to.deep.equal({ shard_id: tenant.shard, reason: 'move:test' });
    expect(pinned.history).to.deep.equal(before.history);

    // no pin (the ring puts it there): the pin goes, in the same kind of statement
    const unpinnedAt = await pins.place(tenant.id, tenant.shard, undefined, await ring());
    const unpinned = await catalogNow(tenant.id);
    expect([unpinned.pin, unpinnedAt]).to.deep.equal([undefined, unpinned.version]);
    expect((await tenant.createUser()).status, 'still writable where it lives').to.equal(201);
  });
});
