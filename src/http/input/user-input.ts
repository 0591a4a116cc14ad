import { z } from 'zod';
import { USER_SORTABLE, addressInput } from '../../models/index.js';
import { jsonObject, queryBool, queryDate, safeString } from './validation.js';
import { listInput } from './list-input.js';

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
  address: addressInput.nullable().optional(),
});

export const userPatch = z
  .strictObject({
    username: username.optional(),
    email: email.optional(),
    password: password.optional(),
    taxId: taxId.optional(),
    isActive: z.boolean().optional(),
    metadata: jsonObject.optional(),
    // the whole address: a part alone is not an address
    address: addressInput.nullable().optional(),
  })
  .refine((v) => Object.keys(v).length > 0, 'must change at least one field');

export const userList = listInput(USER_SORTABLE, {
  active: queryBool.optional(),
  createdFrom: queryDate.optional(),
  createdTo: queryDate.optional(),
});
