import { Op, type WhereOptions } from 'sequelize';
import { afterCursor, decodeCursor, encodeCursor } from './keyset-cursor.js';

/** A list page: page numbers, or keyset after a cursor; both offer nextCursor, and total when asked. */
export interface ListPage<T> {
  readonly items: T[];
  readonly pageSize: number;
  readonly page?: number;
  readonly total?: number;
  readonly nextCursor: string | null;
}

/** What a list is asked for: page numbers or keyset paging, a sort, and whether to count. */
export interface ListQuery<SortField extends string> {
  readonly pageSize: number;
  /** page mode when set; keyset mode (cursor) otherwise */
  readonly page?: number | undefined;
  readonly cursor?: string | undefined;
  readonly sort: { readonly field: SortField; readonly direction: 'ASC' | 'DESC' };
  /** count the matching rows: default on in page mode, off in keyset mode */
  readonly total?: boolean | undefined;
}

/**
 * One list request's paging, the same for every resource: the cursor's condition, LIMIT
 * and OFFSET, whether to count, and the page with its nextCursor. Rows are ordered by the
 * sort attribute and then id, so a cursor (value, id) names a place in the list exactly.
 */
export class ListPager<SortField extends string> {
  readonly keyset: boolean;
  readonly #sortKey: string;

  constructor(
    private readonly q: ListQuery<SortField>,
    /** the model attribute the sort field maps to */
    private readonly attribute: string,
  ) {
    this.keyset = q.page === undefined;
    this.#sortKey = `${q.sort.direction === 'DESC' ? '-' : ''}${q.sort.field}`;
    // a malformed or foreign cursor is a 400 before any query runs
    if (this.keyset && q.cursor) decodeCursor(q.cursor, this.#sortKey);
  }

  /** The filter plus, in keyset mode, "after the cursor". */
  where(conditions: readonly WhereOptions[]): WhereOptions {
    if (!this.keyset || !this.q.cursor) return { [Op.and]: [...conditions] };
    return { [Op.and]: [...conditions, afterCursor(this.attribute, this.q.sort.direction, decodeCursor(this.q.cursor, this.#sortKey))] };
  }

  get limit(): number {
    return this.q.pageSize;
  }

  get offset(): number {
    return this.keyset ? 0 : ((this.q.page ?? 1) - 1) * this.q.pageSize;
  }

  /** ORDER BY the sort attribute, ties broken by id (stable pages). */
  get order(): Array<[string, 'ASC' | 'DESC']> {
    return [[this.attribute, this.q.sort.direction], ['id', this.q.sort.direction]];
  }

  get wantsTotal(): boolean {
    return this.q.total ?? !this.keyset;
  }

  page<T extends { readonly id: string }>(items: T[], sortValue: (item: T) => string | number, total: number | undefined): ListPage<T> {
    const last = items.at(-1);
    const nextCursor = last !== undefined && items.length === this.q.pageSize ? encodeCursor({ sort: this.#sortKey, value: sortValue(last), id: last.id }) : null;
    return {
      items,
      pageSize: this.q.pageSize,
      ...(this.keyset ? {} : { page: this.q.page ?? 1 }),
      ...(total === undefined ? {} : { total }),
      nextCursor,
    };
  }
}
