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
  return scope.role === undefined ? { text: SCOPE_SQL.tenant, values: [scope.tenantId] } : { text: SCOPE_SQL.tenantAndRole, values: [scope.tenantId, scope.role] };
}

/**
 * The scope statement with its values as literals (pg's escapeLiteral), for a simple-protocol
 * query that carries it behind START TRANSACTION: a statement with bind parameters cannot
 * share a round trip with another.
 */
export function scopeStatementLiteral(scope: Scope): string {
  const { text, values } = scopeStatement(scope);
  return text.replace(/\$(\d)/g, (_m, i: string) => pg.escapeLiteral(values[Number(i) - 1]!));
}

/**
 * Server-side prepared statements a connection keeps at most; past it the least recently
 * used is closed. Statement texts come from code, so a connection normally holds a few
 * dozen; the cap only guards against a caller that builds texts from data.
 */
export const STATEMENT_CACHE_SIZE = 128;

interface Connection {
  parse(msg: { text: string; name?: string }): void;
  bind(msg: { statement?: string; values: string[] }): void;
  execute(msg: { portal: string; rows?: number }): void;
  close(msg: { type: 'S'; name: string }): void;
}

/**
 * One statement the connection holds prepared. 'unknown' after a batch that sent its Parse
 * (or used it) failed: it may or may not exist — or its cached plan may have gone stale
 * ("cached plan must not change result type") — so it is closed (a Close of a statement
 * that does not exist is no error) and parsed again.
 */
interface Prepared {
  readonly name: string;
  state: 'yes' | 'unknown';
}

/** Per connection: its prepared statements by text, least recently used first. */
class StatementCache {
  readonly #byText = new Map<string, Prepared>();
  #next = 0;

  /**
   * The statement's name on this connection, with its Parse (and any Close it needs) sent
   * when the connection does not hold it yet.
   */
  use(connection: Connection, text: string): Prepared {
    let entry = this.#byText.get(text);
    if (entry !== undefined) {
      this.#byText.delete(text);
      this.#byText.set(text, entry);
      if (entry.state === 'yes') return entry;
      connection.close({ type: 'S', name: entry.name });
    } else {
      if (this.#byText.size >= STATEMENT_CACHE_SIZE) {
        const [oldestText, oldest] = this.#byText.entries().next().value!;
        this.#byText.delete(oldestText);
        connection.close({ type: 'S', name: oldest.name });
      }
      entry = { name: `sg_${(this.#next++).toString(36)}`, state: 'yes' };
      this.#byText.set(text, entry);
    }
    connection.parse({ text, name: entry.name });
    entry.state = 'yes';
    return entry;
  }
}

const caches = new WeakMap<Connection, StatementCache>();

function cacheOf(connection: Connection): StatementCache {
  let cache = caches.get(connection);
  if (cache === undefined) caches.set(connection, (cache = new StatementCache()));
  return cache;
}

/**
 * One statement run under a tenant scope in a single round trip: the scope statement and
 * the statement itself go out back to back before one Sync, so the extended protocol runs
 * them in one implicit transaction — `set_config(…, true)` holds for the statement and
 * ends with it, on whatever pooled connection carried it. The scope statement's own row and
 * completion are swallowed here; the caller sees the statement's result only.
 *
 * Both are named prepared statements, parsed once per connection (`StatementCache`): with
 * row-level security every parse also expands the policy, and parsing and planning each
 * statement anew was most of what RLS cost (bench: `rls`). A scope that takes a role (the
 * embedded default, whose one backend session every connection shares: names would
 * collide there), or `prepare` false (`db.preparedStatements`: a pooler in transaction
 * mode), parses both with each statement instead.
 */
export class TenantScopedQuery extends pg.Query {
  #scopeDone = false;
  readonly #scoped: ReturnType<typeof scopeStatement>;
  readonly #prepare: boolean;
  #used: Prepared[] = [];

  constructor(
    config: pg.QueryConfig & { callback: (err: Error | null, result: pg.QueryResult) => void },
    scope: Scope,
    prepare = true,
  ) {
    // name '' is pg's unnamed statement, as without a name; but the pg instrumentation's
    // sqlcommenter takes a query object with *no* name for a plain config and replaces it
    // with a copy, which would drop this class and its scope. A named query it leaves
    // alone (so these statements carry no sqlcommenter comment; their spans are unchanged).
    // The name the statement is prepared under is set in `prepare`, per connection.
    super({ ...config, name: '' } as pg.QueryConfig);
    this.#scoped = scopeStatement(scope);
    this.#prepare = prepare && scope.role === undefined;
  }

  // pg's Query calls these from the client's message loop; the scope statement answers first
  /** @internal */
  prepare(connection: Connection): void {
    const { text, values } = this.#scoped;
    if (!this.#prepare) {
      connection.parse({ text });
      // text values only: they go out as they are, without pg's value mapper
      connection.bind({ values });
    } else {
      const cache = cacheOf(connection);
      const scope = cache.use(connection, text);
      connection.bind({ statement: scope.name, values });
      const self = this as unknown as { text: string; name: string };
      const statement = cache.use(connection, self.text);
      this.#used = [scope, statement];
      // pg's prepare binds (and, by `hasBeenParsed`, skips parsing) the statement by this name
      self.name = statement.name;
    }
    connection.execute({ portal: '' });
    (pg.Query.prototype as unknown as { prepare(c: Connection): void }).prepare.call(this, connection);
  }

  /** The cache has parsed it already (or holds it): pg must not parse it again. @internal */
  hasBeenParsed(): boolean {
    return this.#prepare;
  }

  /** @internal */
  handleError(err: Error, connection: unknown): void {
    for (const statement of this.#used) statement.state = 'unknown';
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
