import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg, { escapeIdentifier } from 'pg';
import { sql, testCluster, type ClusterShard, type TestGateway, type Json } from './test-cluster.js';

/** The spare shards cluster.sh made (not in the ring). */
export function spareShards(): ClusterShard[] {
  const file = process.env.SHARDGATE_TEST_SPARES;
  if (!file) throw new Error('SHARDGATE_TEST_SPARES is not set: run integration tests with `npm test`');
  return JSON.parse(readFileSync(file, 'utf8')) as ClusterShard[];
}

export const hasSpareShards = (): boolean => Boolean(process.env.SHARDGATE_TEST_SPARES && process.env.SHARDGATE_TEST_CLUSTER);

/**
 * A catalog database of its own on the test cluster's catalog server: moves change ring
 * membership and pins, which other test files must never see. The shard databases are
 * shared; tenants are unique per test, so their rows never meet.
 */
export async function privateCatalog(): Promise<{ url: string; drop: () => Promise<void> }> {
  const base = new URL(testCluster().catalog);
  const name = `shardgate_catalog_moves_${randomUUID().slice(0, 8)}`;
  const admin = new URL(base);
  admin.pathname = '/postgres';
  await sql(admin.toString(), `CREATE DATABASE ${escapeIdentifier(name)}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      await sql(admin.toString(), `DROP DATABASE IF EXISTS ${escapeIdentifier(name)} WITH (FORCE)`);
    },
  };
}

export async function waitForJob(gw: TestGateway, jobId: string, timeoutMs = 90_000): Promise<Json> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await gw.admin('GET', `/admin/jobs/${jobId}`);
    if (res.status !== 200) throw new Error(`GET job: ${res.status} ${res.text}`);
    if (res.body.state === 'succeeded' || res.body.state === 'failed') return res.body;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${String(res.body.state)}: ${res.text}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Replication objects of moves (sg_move_*) and their change tracking on a node: none may outlive its move. */
export async function replicationLeftovers(url: string): Promise<string[]> {
  const rows = await sql<{ kind: string; name: string }>(
    url,
    `SELECT 'slot' AS kind, slot_name::text AS name FROM pg_replication_slots WHERE slot_type = 'logical'
     UNION ALL SELECT 'publication', pubname::text FROM pg_publication WHERE pubname LIKE 'sg\\_move\\_%'
     UNION ALL SELECT 'subscription', subname::text FROM pg_subscription WHERE subname LIKE 'sg\\_move\\_%'
     UNION ALL SELECT 'tracking', tracked_tenant FROM move_tracking
     UNION ALL SELECT DISTINCT 'deltas', tracked_tenant FROM move_row_deltas`,
  );
  return rows.map((r) => `${r.kind} ${r.name}`);
}

/** The tenant's rows per tenant table on a node. */
export async function tenantRowCounts(url: string, tenantId: string): Promise<Record<string, number>> {
  const tables = await sql<{ name: string }>(
    url,
    `SELECT c.relname::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> 'tenant_fences'
        AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)`,
  );
  const out: Record<string, number> = {};
  for (const t of tables) {
    const rows = await sql<{ n: number }>(url, `SELECT count(*)::int AS n FROM ${escapeIdentifier(t.name)} WHERE tenant_id = $1`, [tenantId]);
    out[t.name] = rows[0]!.n;
  }
  return out;
}

export const total = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);

/** Every shard primary of the test cluster, spares included, by id. */
export function allPrimaries(): Map<string, string> {
  return new Map([...testCluster().shards, ...spareShards()].map((s) => [s.id, s.admin.primary]));
}

/** Removes every row and fence of tenants whose id starts with the prefix, from every shard. */
export async function purgeTenants(prefix: string): Promise<void> {
  const like = `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  for (const url of allPrimaries().values()) {
    const tables = await sql<{ name: string }>(
      url,
      `SELECT c.relname::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind = 'r'
          AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)`,
    );
    // replica role: no FK or fence triggers fire, so the order of the deletes does not matter
    const deletes = tables.map((t) => `DELETE FROM ${escapeIdentifier(t.name)} WHERE tenant_id LIKE $1`);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query('BEGIN');
      await client.query("SET LOCAL session_replication_role = 'replica'");
      for (const d of deletes) await client.query(d, [like]);
      await client.query('COMMIT');
    } finally {
      await client.end();
    }
  }
}
