import type { Transaction } from 'sequelize';
import type { Shard } from '../cluster/shard.js';
import type { Destination, ShardRouter } from '../cluster/shard-router.js';
import type { ConsistencyToken, ConsistencyTokens } from '../cluster/consistency-token.js';
import type { ShardNode } from '../cluster/shard-node.js';
import type { Lsn } from '../cluster/lsn.js';
import { GatewayError, ShardUnavailableError } from '../errors/errors.js';
import { translateDbError, type UniqueFields } from './translate-db-error.js';
import { nodeTransaction, type TransactionOptions } from './node-transaction.js';

export interface ReadPreference {
  /** X-Consistency: strong */
  readonly strong: boolean;
  /** X-Consistency-Token sent back by the client */
  readonly token: ConsistencyToken | undefined;
}

/** What the request's edge is told as the session routes and writes (headers, span attributes). */
export interface SessionListener {
  /** once, when the request's node is chosen */
  onRoute?(destination: Destination): void;
  /** after each committed write: the token a client sends back to read its own writes */
  onToken?(token: string): void;
  /** a read answered from the cache: the node that produced the cached copy */
  onCachedRead?(servedBy: string): void;
  /** a request saw this node fail: take it out of rotation until its next good probe */
  onNodeFailure?(node: ShardNode, err: Error): void;
}

export interface TenantSessionOptions {
  readonly tenantId: string;
  readonly shard: Shard;
  readonly router: ShardRouter;
  readonly preference: ReadPreference;
  /** seals the tokens this session issues */
  readonly tokens: ConsistencyTokens;
  readonly listener?: SessionListener | undefined;
  /** throws when this gateway may not write now (its placement is past the write lease) */
  readonly writeGate?: (() => void) | undefined;
}

/** A node as a repository's raw statements reach it: every statement scoped to the session's tenant. */
export interface TenantNode {
  readonly node: ShardNode;
  /** one statement in one round trip, under the tenant's row-level security scope */
  query<R>(text: string, values: readonly unknown[]): Promise<R[]>;
}

export interface WriteOptions {
  /** unique index → the API field it guards, so a duplicate is a 409 naming the field */
  readonly uniqueFields?: UniqueFields | undefined;
}

/**
 * Failures a read may retry elsewhere: the node is unreachable, or (a replica only) the
 * query was cancelled by a conflict with WAL replay (SQLSTATE 40001 on a standby).
 */
function retryableOnAnotherNode(err: unknown): boolean {
  if (!(err instanceof GatewayError)) return false;
  if (err.code === 'SHARD_UNAVAILABLE') return true;
  const state = (err.cause as { parent?: { code?: string } } | undefined)?.parent?.code;
  return err.code === 'CONFLICT' && state === '40001';
}

/** How a read's cached copy names its source in X-Served-By. */
export function servedByName(node: ShardNode): string {
  return node.role === 'primary' ? 'primary' : `replica:${node.name}`;
}

/**
 * One request's access to its tenant's shard, and the only way repositories reach a node.
 * The session owns the routing decision (made once, on first use: reads to a replica
 * within the lag bound or past the client's token, writes to the primary), the
 * consistency token in (the read preference) and out (after every committed write), and
 * the translation of driver errors into typed gateway errors, and the tenant every
 * statement is scoped to for row-level security (a statement or transaction that did not
 * name one sees no row). Repositories say *what* to run — raw statements through `read` /
 * `write`, model work through `readModels` / `transaction` — never *where* or *as whom*.
 */
export class TenantSession {
  readonly tenantId: string;
  readonly shard: Shard;
  /** who the audit trail names for this request's writes */
  readonly actor: string;
  readonly #router: ShardRouter;
  readonly #preference: ReadPreference;
  readonly #tokens: ConsistencyTokens;
  readonly #listener: SessionListener;
  readonly #writeGate: (() => void) | undefined;
  #destination: Destination | undefined;

  constructor(options: TenantSessionOptions) {
    this.tenantId = options.tenantId;
    this.shard = options.shard;
    this.actor = `tenant:${options.tenantId}`;
    this.#router = options.router;
    this.#preference = options.preference;
    this.#tokens = options.tokens;
    this.#listener = options.listener ?? {};
    this.#writeGate = options.writeGate;
  }

  /** true for reads that may be served from a cache: no consistency token, not strong */
  get eventual(): boolean {
    return !this.#preference.strong && this.#preference.token === undefined;
  }

  /** Where a read would go, without committing to it (no headers, no span attributes). */
  peekRead(): Destination {
    return this.#destination ?? this.#routeRead();
  }

  /**
   * Raw statements on the routed node (see `#routedRead` for replica failover); each one is
   * scoped to the tenant in its own round trip.
   */
  read<T>(work: (node: TenantNode) => Promise<T>): Promise<T> {
    return this.#routedRead((node) => work(this.#scoped(node)));
  }

  /**
   * Model reads (Sequelize finds and counts) on the routed node, in one transaction scoped
   * to the tenant: pass `transaction` to every query, or row-level security shows nothing.
   */
  readModels<T>(work: (t: Transaction, node: ShardNode) => Promise<T>): Promise<T> {
    return this.#routedRead((node) => node.transaction(this.tenantId, {}, (t) => work(t, node)));
  }

  /**
   * Raw statements on the primary — one autocommitted, scoped statement each — and, once
   * they have committed, the consistency token.
   */
  async write<T>(work: (node: TenantNode) => Promise<T>, options: WriteOptions = {}): Promise<T> {
    if (this.#listener.onToken === undefined) return this.#write((node) => work(this.#scoped(node)), options);
    // each statement brings the WAL position after its commit: the last one is the token's —
    // unless the work reached for the node itself, which may commit in ways this does not follow
    let position: Lsn | undefined;
    let followed = true;
    const tenantId = this.tenantId;
    const committed = (node: ShardNode): TenantNode => ({
      get node() {
        followed = false;
        return node;
      },
      query: async <R>(text: string, values: readonly unknown[]) => {
        const { rows, lsn } = await node.queryCommitted<R>(text, values, tenantId);
        position = lsn;
        return rows;
      },
    });
    return this.#write((node) => work(committed(node)), options, () => (followed ? position : undefined));
  }

  /**
   * A transaction on the primary scoped to the tenant (READ COMMITTED unless `options` say
   * otherwise), then the consistency token. Side effects of the write (cache invalidation,
   * broadcasts) belong after this resolves: Sequelize's after-hooks run before COMMIT.
   */
  async transaction<T>(work: (t: Transaction, node: ShardNode) => Promise<T>, options: WriteOptions & Omit<TransactionOptions, 'tenantId'> = {}): Promise<T> {
    if (this.#listener.onToken === undefined) return this.#write((node) => nodeTransaction(node, (t) => work(t, node), { ...options, tenantId: this.tenantId }), options);
    let position: Lsn | undefined;
    const onCommitted = (lsn: Lsn | undefined) => (position = lsn);
    return this.#write((node) => nodeTransaction(node, (t) => work(t, node), { ...options, tenantId: this.tenantId, onCommitted }), options, () => position);
  }

  /**
   * Reads are idempotent, so when a replica fails at the connection level the read is
   * retried once on the next choice (another replica, or the primary): a killed replica
   * costs no failed reads.
   */
  async #routedRead<T>(work: (node: ShardNode) => Promise<T>): Promise<T> {
    const first = this.#decide(() => this.#routeRead());
    try {
      return await this.#translated(first.node, work);
    } catch (err) {
      if (first.role !== 'replica' || !retryableOnAnotherNode(err)) throw err;
      // a replay conflict is the query's bad luck, not the node's: only outages leave rotation
      if ((err as GatewayError).code === 'SHARD_UNAVAILABLE') this.#listener.onNodeFailure?.(first.node, err as Error);
      this.#destination = undefined;
      return this.#translated(this.#decide(() => this.#routeRead()).node, work);
    }
  }

  async #write<T>(work: (node: ShardNode) => Promise<T>, options: WriteOptions, position?: () => Lsn | undefined): Promise<T> {
    const primary = this.#forWrite().node;
    const result = await this.#translated(primary, work, options.uniqueFields);
    await this.#issueToken(position?.());
    return result;
  }

  #scoped(node: ShardNode): TenantNode {
    const tenantId = this.tenantId;
    return { node, query: (text, values) => node.query(text, values, tenantId) };
  }

  /** A read answered from the cache: reported like a routed read (X-Served-By). */
  servedFromCache(servedBy: string): void {
    this.#listener.onCachedRead?.(servedBy);
  }

  #routeRead(): Destination {
    return this.#router.route(this.shard, { kind: 'read', strong: this.#preference.strong, token: this.#preference.token });
  }

  #forWrite(): Destination {
    this.#writeGate?.();
    // a request that writes after reading still writes to the primary
    if (this.#destination?.role === 'replica') this.#destination = undefined;
    const primary = this.shard.primary.health;
    // circuit breaker: while probes find the primary down, fail fast instead of queueing
    // on connect and statement timeouts (reads still go to replicas within the lag bound)
    if (!primary.healthy && primary.checkedAt > 0) {
      throw new ShardUnavailableError(this.shard.id, { cause: new Error(primary.error ?? 'primary down'), retryAfterSeconds: 1 });
    }
    return this.#decide(() => this.#router.route(this.shard, { kind: 'write' }));
  }

  #decide(route: () => Destination): Destination {
    if (this.#destination === undefined) {
      this.#destination = route();
      this.#listener.onRoute?.(this.#destination);
    }
    return this.#destination;
  }

  async #translated<T>(node: ShardNode, work: (node: ShardNode) => Promise<T>, uniqueFields?: UniqueFields): Promise<T> {
    try {
      return await work(node);
    } catch (err) {
      throw translateDbError(err, node.shardId, uniqueFields);
    }
  }

  /**
   * The token for a committed write: the primary's WAL position read after its commit (with
   * the last statement, or asked now), which is past the write's commit record. If the
   * primary cannot be asked, the write has still committed: answer without a token rather
   * than turn a success into an error the client might retry.
   */
  async #issueToken(known?: Lsn): Promise<void> {
    if (this.#listener.onToken === undefined) return;
    let token: string | undefined;
    try {
      const lsn = known ?? (await this.shard.primary.currentWalLsn());
      token = lsn === undefined ? undefined : this.#tokens.seal({ shardId: this.shard.id, lsn }, this.tenantId);
    } catch {
      token = undefined;
    }
    if (token !== undefined) this.#listener.onToken(token);
  }
}
