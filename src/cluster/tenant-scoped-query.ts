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

export function scopeStatement(scope: Scope): { text: string; values: string[] } {
  return scope.role === undefined
    ? { text: SCOPE_SQL.tenant, values: [scope.tenantId] }
    : { text: SCOPE_SQL.tenantAndRole, values: [scope.tenantId, scope.role] };
}

interface Connection {
  parse(msg: { text: string; name?: string }): void;
  bind(msg: { values: string[] }): void;
  execute(msg: { portal: string; rows?: number }): void;
}

/**
 * One statement run under a tenant scope in a single round trip: the scope statement and
 * the statement itself go out back to back before one Sync, so the extended protocol runs
 * them in one implicit transaction — `set_config(…, true)` holds for the statement and
 * ends with it, on whatever pooled connection carried it. The scope statement's own row and
 * completion are swallowed here; the caller sees the statement's result only.
 */
export class TenantScopedQuery extends pg.Query {
  #scopeDone = false;

  constructor(
    config: pg.QueryConfig & { callback: (err: Error | null, result: pg.QueryResult) => void },
    private readonly scope: Scope,
  ) {
    // name '' is pg's unnamed statement, as without a name; but the pg instrumentation's
    // sqlcommenter takes a query object with *no* name for a plain config and replaces it
    // with a copy, which would drop this class and its scope. A named query it leaves
    // alone (so these statements carry no sqlcommenter comment; their spans are unchanged).
    super({ ...config, name: '' } as pg.QueryConfig);
  }

  // pg's Query calls these from the client's message loop; the scope statement answers first
  /** @internal */
  prepare(connection: Connection): void {
    const scoped = scopeStatement(this.scope);
    connection.parse({ text: scoped.text });
    // text values only: they go out as they are, without pg's value mapper
    connection.bind({ values: scoped.values });
    connection.execute({ portal: '' });
    (pg.Query.prototype as unknown as { prepare(c: Connection): void }).prepare.call(this, connection);
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
