import pg from 'pg';

/**
 * The statement that names the request's tenant for row-level security (and, where the
 * server's login role is privileged, the role the statement runs as), transaction-local.
 */
export const SCOPE_SQL = {
  tenant: "SELECT set_config('shardgate.tenant_id', $1, true)",
  tenantAndRole: "SELECT set_config('shardgate.tenant_id', $1, true), set_config('role', $2, true)",
} as const;

/** What a statement runs as: the tenant its rows belong to, and optionally a role to take. */
export interface Scope {
  readonly tenantId: string;
  /** a role to SET LOCAL (the embedded default, whose one backend logs in as a superuser) */
  readonly role?: string | undefined;
}

export function scopeStatement(scope: Scope): { name: string; text: string; values: string[] } {
  return scope.role === undefined
    ? { name: 'sg_scope', text: SCOPE_SQL.tenant, values: [scope.tenantId] }
    : { name: 'sg_scope_role', text: SCOPE_SQL.tenantAndRole, values: [scope.tenantId, scope.role] };
}

interface Connection {
  parse(msg: { text: string; name?: string }): void;
  bind(msg: { statement?: string; values: string[] }): void;
  execute(msg: { portal: string; rows?: number }): void;
  close(msg: { type: 'S'; name: string }): void;
}

/**
 * Per connection: the scope statements it holds prepared. 'unknown' after a batch failed
 * before the scope statement finished: it may or may not exist, so it is closed (a Close of
 * a statement that does not exist is no error) and parsed again.
 */
const prepared = new WeakMap<Connection, Map<string, 'yes' | 'unknown'>>();

/**
 * One statement run under a tenant scope in a single round trip: the scope statement and
 * the statement itself go out back to back before one Sync, so the extended protocol runs
 * them in one implicit transaction — `set_config(…, true)` holds for the statement and
 * ends with it, on whatever pooled connection carried it. The scope statement's own row and
 * completion are swallowed here; the caller sees the statement's result only.
 */
export class TenantScopedQuery extends pg.Query {
  #scopeDone = false;
  #connection: Connection | undefined;
  readonly #scoped: ReturnType<typeof scopeStatement>;
  /**
   * The scope's prepared-statement name; none for a scope that takes a role (the embedded
   * default, whose one backend session every connection shares: a named statement would
   * collide there), which is parsed with each statement instead.
   */
  readonly #preparedName: string | undefined;

  constructor(
    config: pg.QueryConfig & { callback: (err: Error | null, result: pg.QueryResult) => void },
    scope: Scope,
  ) {
    // name '' is pg's unnamed statement, as without a name; but the pg instrumentation's
    // sqlcommenter takes a query object with *no* name for a plain config and replaces it
    // with a copy, which would drop this class and its scope. A named query it leaves
    // alone (so these statements carry no sqlcommenter comment; their spans are unchanged).
    super({ ...config, name: '' } as pg.QueryConfig);
    this.#scoped = scopeStatement(scope);
    this.#preparedName = scope.role === undefined ? this.#scoped.name : undefined;
  }

  // pg's Query calls these from the client's message loop; the scope statement answers first
  /**
   * The scope statement is a named prepared statement, parsed once per connection: parsing
   * and planning it on every statement was most of what row-level security cost (bench:
   * `rls`).
   * @internal
   */
  prepare(connection: Connection): void {
    const { text, values } = this.#scoped;
    const name = this.#preparedName;
    if (name === undefined) connection.parse({ text });
    else {
      let statements = prepared.get(connection);
      if (statements === undefined) prepared.set(connection, (statements = new Map()));
      const state = statements.get(name);
      if (state !== 'yes') {
        if (state === 'unknown') connection.close({ type: 'S', name });
        connection.parse({ text, name });
        statements.set(name, 'yes');
      }
      this.#connection = connection;
    }
    // text values only: they go out as they are, without pg's value mapper
    connection.bind({ statement: name ?? '', values });
    connection.execute({ portal: '' });
    (pg.Query.prototype as unknown as { prepare(c: Connection): void }).prepare.call(this, connection);
  }

  /** @internal */
  handleError(err: Error, connection: unknown): void {
    if (!this.#scopeDone && this.#connection !== undefined && this.#preparedName !== undefined) prepared.get(this.#connection)?.set(this.#preparedName, 'unknown');
    (pg.Query.prototype as unknown as { handleError(e: Error, c: unknown): void }).handleError.call(this, err, connection);
  }

  /** @internal */
  handleDataRow(msg: unknown): void {
    if (!this.#scopeDone) return;
    (pg.Query.prototype as unknown as { handleDataRow(m: unknown): void }).handleDataRow.call(this, msg);
  }

  /** @internal */
  handleCommandComplete(msg: unknown, connection: unknown): void {
    if (!this.#scopeDone) {
      this.#scopeDone = true;
      return;
    }
    (pg.Query.prototype as unknown as { handleCommandComplete(m: unknown, c: unknown): void }).handleCommandComplete.call(this, msg, connection);
  }

  /** @internal */
  requiresPreparation(): boolean {
    return true;
  }
}
