/**
 * Baseline ceiling 1: `node:http` + `pg`, nothing else. No validation, no auth, no
 * framework: the fastest this machine answers the point read, never to be slowed.
 * GET /v1/products/:id, tenant in `x-tenant-id`. With BENCH_RLS=1 the same read under
 * row-level security, scoped as shardgate scopes it: the difference is what RLS costs.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { TenantScopedQuery } from '../../src/cluster/tenant-scoped-query.js';
import { announce, baselineEnv, POINT_READ } from './env.js';

const env = baselineEnv();
const pool = new pg.Pool({ connectionString: env.replica, max: env.poolMax });
const PREFIX = '/v1/products/';
// BENCH_RLS=1: the request role, the statement scoped to its tenant in the same round trip
const rls = process.env.BENCH_RLS === '1';

async function pointRead(tenantId: string, id: string): Promise<pg.QueryResult> {
  // prepared once per connection, as shardgate prepares its tenant-scoped statements
  if (!rls) return pool.query({ name: 'point_read', text: POINT_READ, values: [tenantId, id] });
  const client = await pool.connect();
  try {
    return await new Promise<pg.QueryResult>((resolve, reject) => {
      client.query(new TenantScopedQuery({ text: POINT_READ, values: [tenantId, id], callback: (err, result) => (err ? reject(err) : resolve(result)) }, { tenantId }));
    });
  } finally {
    client.release();
  }
}

const server = http.createServer((req, res) => {
  const tenant = req.headers['x-tenant-id'];
  if (req.method !== 'GET' || !req.url?.startsWith(PREFIX) || typeof tenant !== 'string') {
    res.writeHead(404).end();
    return;
  }
  pointRead(tenant, req.url.slice(PREFIX.length)).then(
    (result) => {
      const row: unknown = result.rows[0];
      if (row === undefined) res.writeHead(404).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(row));
    },
    () => res.writeHead(500).end(),
  );
});

server.listen(env.port, '127.0.0.1', () => announce((server.address() as AddressInfo).port));
process.on('SIGTERM', () => server.close(() => void pool.end().then(() => process.exit(0))));
