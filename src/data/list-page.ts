/** A list page: page numbers with a total, or keyset with a cursor; both offer nextCursor. */
export interface ListPage<T> {
  readonly items: T[];
  readonly pageSize: number;
  readonly page?: number;
  readonly total?: number;
  readonly nextCursor: string | null;
}

/** A page by number, with the total: lists that offer no keyset paging. */
export interface Page<T> {
  readonly items: T[];
  readonly page: number;
  readonly pageSize: number;
  readonly total: number;
}
