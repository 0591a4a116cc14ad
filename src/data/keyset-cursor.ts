import { Op, type WhereOptions } from 'sequelize';
import { ValidationError } from '../errors/errors.js';

/** Position after the last row of a page: its sort value and id (ties broken by id). */
export interface Cursor {
  readonly sort: string;
  readonly value: string | number | null;
  readonly id: string;
}

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.sort, cursor.value, cursor.id])).toString('base64url');
}

/** The cursor must come from a list with the same sort; anything else is a 400 naming `cursor`. */
export function decodeCursor(text: string, sort: string): Cursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw new ValidationError('cursor', 'cursor is not a value this API returned');
  }
  if (!Array.isArray(parsed) || parsed.length !== 3 || typeof parsed[2] !== 'string' || !/^[0-9a-f-]{36}$/i.test(parsed[2])) {
    throw new ValidationError('cursor', 'cursor is not a value this API returned');
  }
  const [cursorSort, value, id] = parsed as [unknown, unknown, string];
  if (cursorSort !== sort) throw new ValidationError('cursor', 'cursor was made for another sort order');
  if (value !== null && typeof value !== 'string' && typeof value !== 'number') throw new ValidationError('cursor', 'cursor is not a value this API returned');
  // a forged value must still be one PostgreSQL can take as a literal
  if (typeof value === 'number' && !Number.isFinite(value)) throw new ValidationError('cursor', 'cursor is not a value this API returned');
  if (typeof value === 'string' && (value.length > 512 || value.includes('\u0000') || !value.isWellFormed())) {
    throw new ValidationError('cursor', 'cursor is not a value this API returned');
  }
  return { sort, value, id };
}

/** Keyset condition: rows strictly after the cursor in (attribute, id) order. */
export function afterCursor(attribute: string, direction: 'ASC' | 'DESC', cursor: Cursor): WhereOptions {
  const cmp = direction === 'ASC' ? Op.gt : Op.lt;
  // numbers go as text literals: PostgreSQL reads them as the column's type, so a forged cursor
  // with a number for a text column is a failed cast (400), never `text > integer` (a 500)
  const value = typeof cursor.value === 'number' ? String(cursor.value) : cursor.value;
  return {
    [Op.or]: [{ [attribute]: { [cmp]: value } }, { [attribute]: value, id: { [cmp]: cursor.id } }],
  };
}
