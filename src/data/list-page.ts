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

/** What a list that offers both page numbers and keyset paging is asked for. */
export interface ListQuery<SortField extends string> {
  readonly pageSize: number;
  /** page mode when set; keyset mode (cursor) otherwise */
  readonly page?: number | undefined;
  readonly cursor?: string | undefined;
  readonly sort: { readonly field: SortField; readonly direction: 'ASC' | 'DESC' };
}
