import { z } from 'zod';
import { ValidationError } from '../../errors/errors.js';
import { UUID_PATTERN } from '../../models/index.js';

/** Renders a zod path as the field name a client sees: `items[0].productId`. */
export function fieldName(path: ReadonlyArray<PropertyKey>, prefix = ''): string {
  let out = prefix;
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? 'body' : out;
}

/**
 * Parses untrusted input against a schema; the first problem becomes a 400 naming its
 * field. Unknown keys (strict objects) are reported by name, not as "body".
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, prefix = ''): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    throw new ValidationError(fieldName([...issue.path, key], prefix), `unknown field ${JSON.stringify(key)}`);
  }
  const field = fieldName(issue.path, prefix);
  const message = issue.code === 'invalid_type' && input === undefined ? 'a JSON body is required' : issue.message;
  throw new ValidationError(field, `${field}: ${message}`);
}

/** Strings Postgres can store and clients can round-trip: no NUL, no lone surrogates. */
export const safeString = (min: number, max: number) =>
  z
    .string()
    .min(min, `must be at least ${min} characters`)
    .max(max, `must be at most ${max} characters`)
    .refine((s) => !s.includes('\u0000'), 'must not contain NUL characters')
    .refine((s) => s.isWellFormed(), 'must be well-formed Unicode');

const MAX_JSON_DEPTH = 16;
const MAX_JSON_BYTES = 16 * 1024;

function checkJson(value: unknown, depth: number): string | undefined {
  if (depth > MAX_JSON_DEPTH) return `must be nested at most ${MAX_JSON_DEPTH} levels deep`;
  if (typeof value === 'string') {
    if (value.includes('\u0000')) return 'must not contain NUL characters';
    if (!value.isWellFormed()) return 'must be well-formed Unicode';
    return undefined;
  }
  if (Array.isArray(value)) {
    for (const item of value) {
      const problem = checkJson(item, depth + 1);
      if (problem) return problem;
    }
    return undefined;
  }
  if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      if (key.includes('\u0000') || !key.isWellFormed()) return 'keys must be well-formed Unicode without NUL';
      const problem = checkJson(item, depth + 1);
      if (problem) return problem;
    }
  }
  return undefined;
}

/** true when an object at any depth (up to the nesting limit) has an own key `__proto__`. */
function hasProtoKey(value: unknown, depth = 0): boolean {
  if (typeof value !== 'object' || value === null || depth > MAX_JSON_DEPTH) return false;
  if (!Array.isArray(value) && Object.hasOwn(value, '__proto__')) return true;
  return Object.values(value).some((item) => hasProtoKey(item, depth + 1));
}

/**
 * Refuses objects with a `__proto__` key before a record schema copies them: the copy
 * assigns `out['__proto__'] = v`, which drops the key (or swaps the copy's prototype), so
 * the client would get a 201 for data that was silently not stored.
 */
export const noProtoKeys = z.custom<unknown>((value) => !hasProtoKey(value), { message: 'keys must not be "__proto__"' });

/** A JSON object stored as jsonb: bounded in depth and size, storable as-is. */
export const jsonObject = noProtoKeys.pipe(
  z.record(z.string(), z.unknown()).superRefine((value, ctx) => {
    const problem = checkJson(value, 1);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
    else if (Buffer.byteLength(JSON.stringify(value)) > MAX_JSON_BYTES) ctx.addIssue({ code: 'custom', message: `must be at most ${MAX_JSON_BYTES} bytes as JSON` });
  }),
);

/** Query string values: a single string (a repeated parameter is an error). */
export const queryValue = z.string({ error: 'must be given once, as a single value' });

export const queryInt = (min: number, max: number) =>
  queryValue.regex(/^\d{1,9}$/, 'must be a whole number').transform(Number).pipe(z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

export const queryBool = queryValue.refine((v) => v === 'true' || v === 'false', 'must be true or false').transform((v) => v === 'true');

export const queryDate = queryValue
  // year 1 or later in UTC: PostgreSQL has no year 0, and its refusal named `body`, not this parameter
  .refine((v) => /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(v) && !Number.isNaN(Date.parse(v)) && new Date(v).getUTCFullYear() >= 1, 'must be an ISO 8601 date')
  .transform((v) => new Date(v));

/** A record id: a UUID, lower-cased so equal ids compare (and hash) equal. */
export const uuidInput = z
  .string({ error: 'must be an id' })
  .regex(UUID_PATTERN, 'must be an id (a UUID)')
  .transform((v) => v.toLowerCase());

/** A whole quantity from 1 to `max`. */
export const quantityInput = (max: number) =>
  z
    .number({ error: 'must be a whole number' })
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .max(max, `must be at most ${max}`);
