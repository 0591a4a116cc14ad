/**
 * Baseline 3: what a team writes without shardgate, for one shard. Express 5 + Sequelize
 * with its own `replication` option (reads to the replica, writes to the primary; no
 * health, lag or read-your-writes awareness), one model, `findOne` / `create`. No
 * validation, no auth, no audit, no consistency token: shardgate's reads and writes are
 * quoted against it.
 */
import express from 'express';
import type { AddressInfo } from 'node:net';
import { DataTypes, Model, Sequelize, type ConnectionOptions } from 'sequelize';
import { announce, baselineEnv } from './env.js';

function connection(url: string): ConnectionOptions {
  const u = new URL(url);
  return { host: u.hostname, port: u.port, username: decodeURIComponent(u.username), password: decodeURIComponent(u.password), database: u.pathname.slice(1) };
}

const env = baselineEnv();
const sequelize = new Sequelize({
  dialect: 'postgres',
  logging: false,
  replication: { read: [connection(env.replica)], write: connection(env.primary) },
  pool: { max: env.poolMax, min: 0, idle: 10_000 },
});

class Product extends Model {}
Product.init(
  {
    tenantId: { type: DataTypes.TEXT, primaryKey: true },
    id: { type: DataTypes.UUID, primaryKey: true, defaultValue: DataTypes.UUIDV4 },
    name: { type: DataTypes.TEXT, allowNull: false },
    description: { type: DataTypes.TEXT, allowNull: false, defaultValue: '' },
    price: { type: DataTypes.DECIMAL(12, 2), allowNull: false },
    stock: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
    categoryId: DataTypes.TEXT,
    isActive: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: true },
    attributes: { type: DataTypes.HSTORE, allowNull: false, defaultValue: {} },
    metadata: { type: DataTypes.JSONB, allowNull: false, defaultValue: {} },
  },
  { sequelize, tableName: 'products', underscored: true, paranoid: true, version: true },
);

const app = express();
app.disable('x-powered-by');
app.disable('etag');
app.use(express.json());

app.get('/v1/products/:id', async (req, res) => {
  const product = await Product.findOne({ where: { tenantId: req.header('x-tenant-id'), id: req.params.id } });
  if (product === null) res.status(404).end();
  else res.json(product);
});

app.post('/v1/products', async (req, res) => {
  const body = req.body as Record<string, unknown>;
  res.status(201).json(await Product.create({ ...body, tenantId: req.header('x-tenant-id') }));
});

const server = app.listen(env.port, '127.0.0.1', () => announce((server.address() as AddressInfo).port));
process.on('SIGTERM', () => server.close(() => void sequelize.close().then(() => process.exit(0))));
