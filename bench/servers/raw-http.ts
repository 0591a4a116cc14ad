/**
 * Baseline ceiling 1: `node:http` + `pg`, nothing else. No validation, no auth, no
 * framework: the fastest this machine answers the point read, never to be slowed.
 * GET /v1/products/:id, tenant in `x-tenant-id`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { announce, baselineEnv, POINT_READ } from './env.js';

const env = baselineEnv();
const pool = new pg.Pool({ connectionString: env.replica, max: env.poolMax });
const PREFIX = '/v1/products/';

const server = http.createServer((req, res) => {
  const tenant = req.headers['x-tenant-id'];
  if (req.method !== 'GET' || !req.url?.startsWith(PREFIX) || typeof tenant !== 'string') {
    res.writeHead(404).end();
    return;
  }
  pool.query(POINT_READ, [tenant, req.url.slice(PREFIX.length)]).then(
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
