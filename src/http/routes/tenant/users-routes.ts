import express, { type Router } from 'express';
import type { UsersRepository } from '../../../data/users/users-repository.js';
import type { UserSortField } from '../../../models/index.js';
import { parseInput } from '../../input/validation.js';
import { pageUnlessCursor, parseSort, recordId } from '../../input/record-params.js';
import { userCreate, userList, userPatch } from '../../input/user-input.js';
import { sessionOf } from '../../middleware/tenant-context.js';
import { sendRecord, versionedRecordRoutes } from './versioned-record-routes.js';

/** /v1/users: the versioned-record writes, a page-numbered list, and a single read. */
export function usersRoutes(users: UsersRepository): Router {
  const router = express.Router();
  versionedRecordRoutes(router, { what: 'user', resource: users, createInput: userCreate, patchInput: userPatch });

  router.get('/', async (req, res) => {
    const q = parseInput(userList, { ...req.query });
    res.json(await users.list(sessionOf(res), { ...q, page: pageUnlessCursor(q), sort: parseSort<UserSortField>(q.sort) }));
  });

  router.get('/:id', async (req, res) => {
    sendRecord(res, 200, await users.get(sessionOf(res), recordId(req, 'user')));
  });

  return router;
}
