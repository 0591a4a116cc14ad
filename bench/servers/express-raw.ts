/**
 * Baseline ceiling 2: Express 5 + raw `pg`. The best any Express gateway can do on this
 * machine: shardgate's routed read is quoted against it. No validation, no auth.
 */
import express from 'express';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { announce, baselineEnv, POINT_READ } from './env.js';

const env = baselineEnv();
const pool = new pg.Pool({ connectionString: env.replica, max: env.poolMax });
const app = express();
app.disable('x-powered-by');
app.disable('etag');

app.get('/v1/products/:id', async (req, res) => {
  const result = await pool.query({ name: 'point_read', text: POINT_READ, values: [req.header('x-tenant-id'), req.params.id] });
  const row: unknown = result.rows[0];
  if (row === undefined) res.status(404).end();
  else res.json(row);
});

const server = app.listen(env.port, '127.0.0.1', () => announce((server.address() as AddressInfo).port));
process.on('SIGTERM', () => server.close(() => void pool.end().then(() => process.exit(0))));
