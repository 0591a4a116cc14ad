export type NodeRole = 'primary' | 'replica';

/** The node a statement ran on, as metrics, logs and usage name it. */
export interface ObservedNode {
  readonly shardId: string;
  readonly role: NodeRole;
  readonly name: string;
}

/** Told as a statement ends: how long the server took to answer it and the rows it returned or changed. */
export type StatementEnd = (elapsedMs: number, rows: number) => void;

/**
 * Told as each statement on a node's pooled connections starts, in the async context of the
 * code that sent it (the request it runs for); what it returns is told as the statement
 * ends. Called at the start because the driver answers from its socket's context, which
 * belongs to whichever request opened the connection, not to this statement's.
 */
export type StatementObserver = (node: ObservedNode, sql: string) => StatementEnd;

type Callback = (err: Error | null, result?: unknown) => void;
interface Submittable {
  submit(...args: unknown[]): void;
  callback?: Callback;
  text?: string;
}
interface QueryingClient {
  query(...args: unknown[]): unknown;
}

const observed = new WeakSet<object>();

/** Rows a driver result reports: a multi-statement query answers one result per statement. */
function rowsOf(result: unknown): number {
  if (Array.isArray(result)) return result.reduce((n: number, r) => n + rowsOf(r), 0);
  const { rowCount, rows } = (result ?? {}) as { rowCount?: number | null; rows?: unknown[] };
  return typeof rowCount === 'number' ? rowCount : (rows?.length ?? 0);
}

/**
 * Every statement sent on `connection` told to `observer`, once per connection however
 * often it is checked out: Sequelize's, a transaction's, the pooled hot paths', in every
 * form pg's `query` takes (a callback, a query object with its own, or a promise).
 */
export function observeConnection(connection: QueryingClient, node: ObservedNode, observer: StatementObserver): void {
  if (observed.has(connection)) return;
  observed.add(connection);
  const query = connection.query.bind(connection);
  connection.query = (...args: unknown[]): unknown => {
    const first = args[0] as string | Submittable | { text?: string } | undefined;
    const end = observer(node, typeof first === 'string' ? first : (first?.text ?? ''));
    const started = performance.now();
    const finish = (result: unknown) => end(performance.now() - started, rowsOf(result));
    const last = args.at(-1);
    if (typeof last === 'function') {
      const callback = last as Callback;
      args[args.length - 1] = (err: Error | null, result?: unknown) => {
        finish(err ? undefined : result);
        callback(err, result);
      };
      return query(...args);
    }
    if (first !== undefined && typeof first === 'object' && typeof (first as Submittable).submit === 'function' && (first as Submittable).callback) {
      const submittable = first as Submittable;
      const callback = submittable.callback!;
      submittable.callback = (err, result) => {
        finish(err ? undefined : result);
        callback(err, result);
      };
      return query(...args);
    }
    const answer = query(...args);
    if (answer instanceof Promise) {
      return answer.then(
        (result: unknown) => {
          finish(result);
          return result;
        },
        (err: unknown) => {
          finish(undefined);
          throw err;
        },
      );
    }
    return answer;
  };
}
