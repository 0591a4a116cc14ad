import { z } from 'zod';
import { USER_SORTABLE } from '../../models/index.js';
import { jsonObject, queryBool, queryDate, queryInt, queryValue, safeString } from './validation.js';

const username = safeString(3, 64).regex(/^[A-Za-z0-9_.-]+$/, 'may hold only letters, digits, "_", "." and "-"');
const email = safeString(3, 254).pipe(z.email('must be an email address'));
const password = safeString(8, 256);
const taxId = safeString(1, 64).nullable();

export const userCreate = z.strictObject({
  username,
  email,
  password,
  taxId: taxId.optional(),
  isActive: z.boolean().optional(),
  metadata: jsonObject.optional(),
});

export const userPatch = z
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

export const userList = z.strictObject({
  page: queryInt(1, 1_000_000).default(1),
  pageSize: queryInt(1, 100).default(20),
  active: queryBool.optional(),
  createdFrom: queryDate.optional(),
  createdTo: queryDate.optional(),
  sort: queryValue.refine((v) => sortValues.includes(v), `must be one of ${sortValues.join(', ')}`).default('createdAt'),
});
