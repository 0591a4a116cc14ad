import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import type { Redis } from 'ioredis';
import { fingerprint, normalize } from 'libpg-query';
import type { Logger } from 'pino';
import type { SlowStatement } from '../context/request-context.js';
import type { ShardNode } from '../cluster/shard-node.js';
import { genericPlan } from './generic-plan.js';

/** A slow statement as the fleet keeps it: normalised (constants `$n`), with its generic plan. */
export interface SlowQuery {
  readonly at: string;
  readonly tenant: string | null;
  readonly route: string | null;
  readonly shard: string;
  readonly node: string;
  readonly role: 'primary' | 'replica';
  readonly durationMs: number;
  readonly query: string;
  readonly fingerprint: string | null;
  readonly plan: string | null;
  /** why there is no plan, when there is none */
  readonly planError?: string;
}

export interface SlowQueriesOptions {
  readonly keep: number;
  readonly planTimeoutMs: number;
  readonly planEveryMs: number;
}

const KEY = 'shardgate:slow-queries';
/** plans remembered by statement fingerprint */
const PLAN_MEMORY = 500;
/** plans waiting to be read; past it a slow statement is kept without one */
const PLANS_WAITING = 16;

/** The node a slow statement ran on, if this gateway still has it. */
export type NodeLookup = (shard: string, node: string) => ShardNode | undefined;

/** The statement text without the trace comment the pg instrumentation's sqlcommenter appends. */
const withoutComments = (sql: string) => sql.replace(/\/\*[^*]*\*\/\s*;?\s*$/, '').trim();

/**
 * Recent slow statements of the fleet, newest first, in a Redis list every pod pushes to
 * (capped at `keep`), or this pod's own when Redis cannot answer. A statement is kept as
 * PostgreSQL's normaliser writes it — every constant `$n`, the same text pg_stat_statements
 * shows — with its generic plan (`genericPlan`), so no bound value reaches the list. A plan
 * is asked once per statement fingerprint per `planEveryMs`, one at a time, a few waiting at
 * most: explaining every slow statement of an overloaded shard would add to its load.
 */
export class SlowQueries {
  readonly #local: SlowQuery[] = [];
  readonly #plans = new Map<string, { plan: string | null; planError?: string; at: number }>();
  /** plans are read one after another, a few waiting at most */
  #explaining: Promise<unknown> = Promise.resolve();
  #waiting = 0;

  constructor(
    private readonly redis: Redis | undefined,
    private readonly nodes: NodeLookup,
    private readonly options: SlowQueriesOptions,
    private readonly logger: Logger,
  ) {}

  /** Kept in the background, outside the request's trace and accounting; never throws. */
  capture(statement: SlowStatement, where: { tenant?: string | undefined; route?: string | undefined }): void {
    void context.with(ROOT_CONTEXT, () => this.#capture(statement, where)).catch((err: unknown) => {
      this.logger.warn({ err: (err as Error).message }, 'slow query not kept');
    });
  }

  /** The newest `limit`, fleet-wide when Redis answers (`podOnly` false). */
  async recent(limit: number): Promise<{ queries: SlowQuery[]; podOnly: boolean }> {
    if (this.redis) {
      try {
        const raw = await this.redis.lrange(KEY, 0, limit - 1);
        return { queries: raw.map((r) => JSON.parse(r) as SlowQuery), podOnly: false };
      } catch (err) {
        this.logger.warn({ err: (err as Error).message }, 'slow queries: Redis did not answer; this pod only');
      }
    }
    return { queries: this.#local.slice(0, limit), podOnly: this.redis !== undefined };
  }

  async #capture(s: SlowStatement, where: { tenant?: string | undefined; route?: string | undefined }): Promise<void> {
    const text = withoutComments(s.sql);
    let query: string;
    let print: string | null = null;
    try {
      query = await normalize(text);
      print = await fingerprint(text);
    } catch {
      // not one PostgreSQL parses (it ran, so this is rare): no text that could hold a value
      query = '(statement not normalisable)';
    }
    const plan = print === null ? { plan: null, planError: 'statement not normalisable' } : await this.#plan(s, query, print, where.tenant);
    const entry: SlowQuery = {
      at: new Date(s.at).toISOString(),
      tenant: where.tenant ?? null,
      route: where.route ?? null,
      shard: s.shard,
      node: s.node,
      role: s.role,
      durationMs: Math.round(s.durationMs * 10) / 10,
      query,
      fingerprint: print,
      plan: plan.plan,
      ...(plan.planError === undefined ? {} : { planError: plan.planError }),
    };
    this.#local.unshift(entry);
    this.#local.length = Math.min(this.#local.length, this.options.keep);
    if (this.redis) {
      await this.redis.multi().lpush(KEY, JSON.stringify(entry)).ltrim(KEY, 0, this.options.keep - 1).exec();
    }
  }

  async #plan(s: SlowStatement, query: string, print: string, tenant: string | undefined): Promise<{ plan: string | null; planError?: string }> {
    const known = this.#plans.get(print);
    if (known && Date.now() - known.at < this.options.planEveryMs) return known;
    if (this.#waiting >= PLANS_WAITING) return known ?? { plan: null, planError: 'too many plans waiting' };
    const node = this.nodes(s.shard, s.node);
    if (!node) return { plan: null, planError: 'node no longer known' };
    this.#waiting++;
    const reading = this.#explaining.then(async () => {
      // asked again while it waited: read once
      const meanwhile = this.#plans.get(print);
      if (meanwhile && Date.now() - meanwhile.at < this.options.planEveryMs) return meanwhile;
      try {
        return { plan: await genericPlan(node, query, tenant, this.options.planTimeoutMs) };
      } catch (err) {
        return { plan: null, planError: (err as Error).message };
      }
    });
    this.#explaining = reading;
    let got: { plan: string | null; planError?: string };
    try {
      got = await reading;
    } finally {
      this.#waiting--;
    }
    this.#plans.delete(print);
    this.#plans.set(print, { ...got, at: Date.now() });
    if (this.#plans.size > PLAN_MEMORY) this.#plans.delete(this.#plans.keys().next().value!);
    return got;
  }
}
