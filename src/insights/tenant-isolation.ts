import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ConflictError, NotFoundError, ValidationError } from '../errors/errors.js';
import { hotTenants, type HotTenantFinding, type HotTenantRule } from './hot-tenants.js';
import type { TenantUsage } from './tenant-usage.js';

export interface IsolationOptions extends HotTenantRule {
  readonly autoIsolate: boolean;
  readonly cooldownMs: number;
}

export interface TenantIsolationDeps {
  readonly usage: TenantUsage;
  /** the fleet's shards and their states (the catalog's) */
  readonly shards: () => Promise<ReadonlyArray<{ readonly id: string; readonly state: string }>>;
  /** where the tenant lives now */
  readonly shardOf: (tenantId: string) => string;
  readonly tenantExists: (tenantId: string) => Promise<boolean>;
  /** starts a move job; its errors are the move API's (404, 409 already moving or already there) */
  readonly startMove: (tenantId: string, to: string) => Promise<string>;
  /** shared cooldowns, so two pods never isolate one tenant twice; per pod without it */
  readonly redis: Redis | undefined;
  readonly options: IsolationOptions;
  readonly logger: Logger;
}

/** What an isolation would do (a dry run), or did (with its move's job). */
export interface IsolationPlan {
  readonly tenant: string;
  readonly from: string;
  readonly to: string;
  /** `requested`: the operator named the shard; `least_loaded`: the active shard with the least database time over the detector's window */
  readonly reason: 'requested' | 'least_loaded';
  readonly loads: ReadonlyArray<{ readonly shard: string; readonly dbTimeMs: number }>;
  readonly finding: HotTenantFinding | null;
  readonly dryRun: boolean;
  readonly jobId?: string;
}

const cooldownKey = (tenant: string) => `shardgate:isolate:${tenant}`;

/**
 * The hot-tenant detector over the fleet's usage and the action on it: move the tenant to
 * the least-loaded active shard (or one the operator names), dry run first. In automatic
 * mode every pod looks once a bucket and the first to take the tenant's cooldown in Redis
 * (SET NX with the cooldown as expiry) moves it; the others find the cooldown taken.
 */
export class TenantIsolation {
  #timer: NodeJS.Timeout | undefined;
  readonly #localCooldowns = new Map<string, number>();

  constructor(private readonly deps: TenantIsolationDeps) {}

  /** The buckets of the detector's window: the last `sustainBuckets` complete ones. */
  #window(): { first: number; last: number } {
    const current = this.deps.usage.bucketAt(Date.now());
    return { first: current - this.deps.options.sustainBuckets, last: current - 1 };
  }

  async findings(): Promise<{ findings: HotTenantFinding[]; podOnly: boolean }> {
    const { first, last } = this.#window();
    const { bucketMs } = this.deps.usage.options;
    const read = await this.deps.usage.read(first * bucketMs, last * bucketMs);
    return { findings: hotTenants(read.buckets, first, bucketMs, this.deps.options), podOnly: read.podOnly };
  }

  async isolate(tenant: string, input: { dryRun: boolean; to?: string | undefined }): Promise<IsolationPlan> {
    if (!(await this.deps.tenantExists(tenant))) throw new NotFoundError('tenant', tenant);
    const from = this.deps.shardOf(tenant);
    const { first, last } = this.#window();
    const { bucketMs } = this.deps.usage.options;
    const read = await this.deps.usage.read(first * bucketMs, last * bucketMs);
    const finding = hotTenants(read.buckets, first, bucketMs, this.deps.options).find((f) => f.tenant === tenant) ?? null;
    const active = (await this.deps.shards()).filter((s) => s.state === 'active' && s.id !== from).map((s) => s.id);
    const loads = active
      .map((shard) => ({ shard, dbTimeMs: Math.round(read.buckets.reduce((sum, b) => sum + (b.shards.get(shard)?.dbTimeMs ?? 0), 0) * 10) / 10 }))
      .sort((a, b) => a.dbTimeMs - b.dbTimeMs || (a.shard < b.shard ? -1 : 1));
    let to: string;
    let reason: IsolationPlan['reason'];
    if (input.to !== undefined) {
      if (input.to === from) throw new ConflictError(`tenant ${tenant} already lives on ${from}`, 'to');
      if (!active.includes(input.to)) throw new ValidationError('to', `unknown or inactive shard ${input.to}`);
      to = input.to;
      reason = 'requested';
    } else {
      const least = loads[0];
      if (!least) throw new ConflictError(`no other active shard to isolate ${tenant} on`);
      to = least.shard;
      reason = 'least_loaded';
    }
    const plan = { tenant, from, to, reason, loads, finding, dryRun: input.dryRun };
    if (input.dryRun) return plan;
    if (!(await this.#takeCooldown(tenant))) throw new ConflictError(`tenant ${tenant} was isolated less than ${this.deps.options.cooldownMs} ms ago`);
    const jobId = await this.deps.startMove(tenant, to);
    this.deps.logger.info({ tenant, from, to, reason, jobId }, 'tenant isolated');
    return { ...plan, jobId };
  }

  /** Automatic mode: look once a bucket, move what is hot (cooldowns permitting). */
  start(): void {
    if (!this.deps.options.autoIsolate || this.#timer) return;
    this.#timer = setInterval(() => void this.#autoPass(), this.deps.usage.options.bucketMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #autoPass(): Promise<void> {
    try {
      const { findings } = await this.findings();
      for (const f of findings) {
        await this.isolate(f.tenant, { dryRun: false }).catch((err: unknown) => {
          if (!(err instanceof ConflictError)) this.deps.logger.warn({ tenant: f.tenant, err: (err as Error).message }, 'automatic isolation failed');
        });
      }
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message }, 'hot-tenant detector pass failed');
    }
  }

  async #takeCooldown(tenant: string): Promise<boolean> {
    const ms = this.deps.options.cooldownMs;
    if (ms === 0) return true;
    if (this.deps.redis) {
      try {
        return (await this.deps.redis.set(cooldownKey(tenant), String(Date.now()), 'PX', ms, 'NX')) === 'OK';
      } catch (err) {
        this.deps.logger.warn({ err: (err as Error).message }, 'isolation cooldown: Redis did not answer; this pod only');
      }
    }
    const until = this.#localCooldowns.get(tenant) ?? 0;
    if (until > Date.now()) return false;
    this.#localCooldowns.set(tenant, Date.now() + ms);
    return true;
  }
}
