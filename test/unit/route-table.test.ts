import { expect } from 'chai';
import express from 'express';
import { RouteTable } from '../../src/http/route-table.js';

describe('RouteTable (every route an app mounts, with its full path)', () => {
  it('lists routes under their mount path and base, nested routers included, in order', () => {
    const app = express();
    const table = new RouteTable();
    const v1 = express.Router();
    const users = express.Router();
    users.get('/', () => undefined);
    users.route('/:id').get(() => undefined).patch(() => undefined);
    const nested = express.Router();
    nested.post('/restore', () => undefined);
    users.use('/:id', nested);
    const keys = express.Router();
    keys.delete('/tenants/:id/keys/:keyId', () => undefined);
    keys.all('/anything', () => undefined);
    table.mount(v1, '/users', users, '/v1');
    table.mount(app, '/', keys);
    app.use('/v1', v1);
    expect(table.entries).to.deep.equal([
      { method: 'GET', path: '/v1/users' },
      { method: 'GET', path: '/v1/users/:id' },
      { method: 'PATCH', path: '/v1/users/:id' },
      { method: 'POST', path: '/v1/users/:id/restore' },
      { method: 'DELETE', path: '/tenants/:id/keys/:keyId' },
      { method: 'ALL', path: '/anything' },
    ]);
    expect(table.has('patch', '/v1/users/:id')).to.equal(true);
    expect(table.has('DELETE', '/v1/users/:id')).to.equal(false);
    expect(table.has('PUT', '/anything')).to.equal(true);
  });

  it('sees routes a router gains after it was mounted', () => {
    const table = new RouteTable();
    const router = express.Router();
    table.mount(express(), '/late', router);
    router.get('/x', () => undefined);
    expect(table.entries).to.deep.equal([{ method: 'GET', path: '/late/x' }]);
  });

  it('refuses a route it cannot name (a regular expression path)', () => {
    const table = new RouteTable();
    const router = express.Router();
    router.get(/^\/re$/, () => undefined);
    table.mount(express(), '/', router);
    expect(() => table.entries).to.throw(/string paths/);
  });
});
