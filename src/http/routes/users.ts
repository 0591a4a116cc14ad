import express, { type Router } from 'express';
import { z } from 'zod';
import type { UsersRepository } from '../../data/users-repository.js';
import { USER_SORTABLE, type UserSortField } from '../../models/index.js';
import { parseIfMatch, sendRecord, recordId, parseSort } from '../records.js';
import { jsonObject, parseInput, queryBool, queryDate, queryInt, queryValue, safeString } from '../validation.js';
import { sessionOf, tenantOf } from '../tenant-context.js';

const username = safeString(3, 64).regex(/^[A-Za-z0-9_.-]+$/, 'may hold only letters, digits, "_", "." and "-"');
const email = safeString(3, 254).pipe(z.email('must be an email address'));
const password = safeString(8, 256);
const taxId = safeString(1, 64).nullable();

const createSchema = z.strictObject({
  username,
  email,
  password,
  taxId: taxId.optional(),
  isActive: z.boolean().optional(),
  metadata: jsonObject.optional(),
});

const updateSchema = z
  .strictObject({
    username: username.optional(),
    email: email.optional(),
    password: password.optional(),
    taxId: taxId.optional(),
    isActive: z.boolean().optional(),
    metadata: jsonObject.optional(),
  })
  .refine((v) => Object.keys(v).length > 0, 'must change at least one field');

const sortValues = Object.keys(USER_SORTABLE).flatMap((f) => [f, `-${f}`]);
const listSchema = z.strictObject({
  page: queryInt(1, 1_000_000).default(1),
  pageSize: queryInt(1, 100).default(20),
  active: queryBool.optional(),
  createdFrom: queryDate.optional(),
  createdTo: queryDate.optional(),
  sort: queryValue.refine((v) => sortValues.includes(v), `must be one of ${sortValues.join(', ')}`).default('createdAt'),
});


export function usersRoutes(repo: UsersRepository): Router {
  const router = express.Router();

  router.post('/', async (req, res) => {
    const input = parseInput(createSchema, req.body);
    const session = sessionOf(res);
    const user = await repo.create(session.forWrite().node, session.tenantId, input, `tenant:${tenantOf(res).id}`);
    res.setHeader('Location', `${req.baseUrl}/${user.id}`);
    sendRecord(res, 201, user, await session.consistencyToken());
  });

  router.get('/', async (req, res) => {
    const q = parseInput(listSchema, { ...req.query });
    const sort = parseSort<UserSortField>(q.sort);
    const session = sessionOf(res);
    const page = await session.read((node) => repo.list(node, session.tenantId, {
      page: q.page,
      pageSize: q.pageSize,
      active: q.active,
      createdFrom: q.createdFrom,
      createdTo: q.createdTo,
      sort,
    }));
    res.json(page);
  });

  router.get('/:id', async (req, res) => {
    const session = sessionOf(res);
    const id = recordId(req, 'user');
    sendRecord(res, 200, await session.read((node) => repo.get(node, session.tenantId, id)));
  });

  router.patch('/:id', async (req, res) => {
    const id = recordId(req, 'user');
    const expected = parseIfMatch(req.header('if-match'));
    const patch = parseInput(updateSchema, req.body);
    const session = sessionOf(res);
    const user = await repo.update(session.forWrite().node, session.tenantId, id, patch, expected, `tenant:${tenantOf(res).id}`);
    sendRecord(res, 200, user, await session.consistencyToken());
  });

  router.delete('/:id', async (req, res) => {
    const id = recordId(req, 'user');
    const session = sessionOf(res);
    await repo.remove(session.forWrite().node, session.tenantId, id, `tenant:${tenantOf(res).id}`);
    const token = await session.consistencyToken();
    if (token !== undefined) res.setHeader('X-Consistency-Token', token);
    res.status(204).end();
  });

  router.post('/:id/restore', async (req, res) => {
    const id = recordId(req, 'user');
    const session = sessionOf(res);
    const user = await repo.restore(session.forWrite().node, session.tenantId, id, `tenant:${tenantOf(res).id}`);
    sendRecord(res, 200, user, await session.consistencyToken());
  });

  return router;
}
