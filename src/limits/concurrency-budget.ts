import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { ShardSlots, SlotLease } from './shard-slots.js';
import { decide, podLimits, pollDelayMs, renewIntervalMs, type SlotLimits } from './slot-math.js';
import type { Release } from './tenant-semaphores.js';
import { LingeringSlots } from './lingering-slots.js';

/** Which cap refused a slot: the tenant's own (429) or the shard's (503). */
export type SlotRefusal = 'tenant' | 'shard';

export type SlotGrant = { readonly ok: true; readonly release: Release } | { readonly ok: false; readonly reason: SlotRefusal | 'aborted' };

/** One attempt's outcome (a wait may also end 'aborted'; an attempt cannot). */
type Attempt = { readonly ok: true; readonly release: Release } | { readonly ok: false; readonly reason: SlotRefusal };

export interface ConcurrencyBudgetOptions {
  /** the leases shared by every pod; absent (no Redis configured): this process is the whole fleet */
  readonly slots: ShardSlots | undefined;
  /** the fleet-wide caps: per tenant, per shard */
  readonly limits: SlotLimits;
  /** pods sharing the caps: while Redis cannot answer, each pod allows caps ÷ pods */
  readonly expectedPods: number;
  /**
   * most slots one tenant may hold on this pod whatever the fleet allows: below a node pool's
   * size, so a tenant whose requests all land on one pod cannot take every connection it has
   */
  readonly podTenantCeiling?: number;
  /** ms a lease counts without renewal */
  readonly leaseTtlMs: number;
  /**
   * ms a released slot stays leased to this pod for the tenant's next request on that shard
   * before it goes back to Redis: a busy tenant reuses its slots with no round trip; others
   * may see them taken that much longer. 0: every release goes back at once.
   */
  readonly lingerMs?: number;
  /** requests of one tenant waiting here for a slot; more are refused at once */
  readonly maxQueued: number;
  /** max ms a request waits for a slot */
  readonly queueTimeoutMs: number;
  /** after a Redis failure, decide per pod for this long before asking Redis again */
  readonly backoffMs?: number;
  readonly logger: Logger;
  /** told of every slot decision the per-pod fallback made while Redis could not answer */
  readonly onFallback?: () => void;
  /** [0, 1): spreads the polls of waiting requests */
  readonly random?: () => number;
  /** monotonic ms clock (the back-off) */
  readonly now?: () => number;
}

interface Waiter {
  readonly shardId: string;
  /** the cap that refused the last attempt: the answer if the wait ends without a slot */
  refusal: SlotRefusal;
  /** ends the wait (and leaves the queue); a second call does nothing */
  readonly settle: (grant: SlotGrant) => void;
}

interface Pump {
  kicked: boolean;
  wake: () => void;
}

/**
 * Concurrent database work, budgeted per tenant and per shard across every gateway pod:
 * each request holds a slot leased in Redis (`ShardSlots`) while it runs. When Redis is
 * unreachable or slow the pod decides alone with its share (caps ÷ `expectedPods`), counting
 * every slot it holds; a request is never failed or held up for long because of Redis.
 *
 * A refused request may wait, in a bounded FIFO per tenant: a slot its own tenant releases
 * here passes straight to it; a slot released elsewhere is found by polling, one poll per
 * waiting tenant at a time.
 *
 * A released slot lingers (`lingerMs`): the pod keeps its lease, renewed like the others,
 * and the tenant's next request on the shard takes it without asking Redis — two round trips
 * a request fewer under steady load — unless a request of another tenant waits here for the
 * shard, which then gets it at once: a shard refusal by Redis while this pod keeps slots of
 * that shard lingering sends them back and asks again.
 */
export class ConcurrencyBudget {
  readonly #podId = randomBytes(6).toString('base64url');
  #seq = 0;
  /** every lease this pod holds in Redis: in use, and lingering */
  readonly #held = new Map<string, SlotLease>();
  readonly #lingering: LingeringSlots;
  readonly #byTenant = new Map<string, number>();
  readonly #byShard = new Map<string, number>();
  readonly #queues = new Map<string, Waiter[]>();
  readonly #pumps = new Map<string, Pump>();
  readonly #now: () => number;
  readonly #random: () => number;
  #renewTimer: NodeJS.Timeout | undefined;
  #renewing = false;
  #probing = false;
  #closed = false;
  #redisDownUntil = 0;
  #shared: boolean;

  constructor(private readonly options: ConcurrencyBudgetOptions) {
    this.#now = options.now ?? (() => performance.now());
    this.#random = options.random ?? Math.random;
    this.#shared = options.slots !== undefined;
    this.#lingering = new LingeringSlots(options.lingerMs ?? 0, (lease) => void this.#giveBack(lease));
  }

  /** True while slots are leased in Redis; false while each pod decides alone (or there is no Redis). */
  get shared(): boolean {
    return this.#shared;
  }

  /** Slots this pod holds, per shard (metrics). */
  slotsInUse(): ReadonlyMap<string, number> {
    return this.#byShard;
  }

  /** Released slots this pod still leases (lingering), in all. */
  lingering(): number {
    return this.#lingering.size;
  }

  /** Slots this pod holds for one tenant, and its requests waiting here. */
  inFlight(tenantId: string): { active: number; waiting: number } {
    return { active: this.#byTenant.get(tenantId) ?? 0, waiting: this.#queues.get(tenantId)?.length ?? 0 };
  }

  /** A slot for the tenant's request on its shard, now or within `queueTimeoutMs`; else which cap refused it. */
  async acquire(tenantId: string, shardId: string, signal?: AbortSignal): Promise<SlotGrant> {
    const queue = this.#queues.get(tenantId);
    // with others of the tenant waiting, a newcomer queues behind them instead of overtaking
    let refusal: SlotRefusal;
    if (queue === undefined || queue.length === 0) {
      const first = await this.#try(tenantId, shardId);
      if (first.ok) return first;
      refusal = first.reason;
    } else {
      refusal = queue[queue.length - 1]!.refusal;
    }
    return this.#wait(tenantId, shardId, refusal, signal);
  }

  /** Stops renewing for good; slots still held expire in Redis at their lease's end. */
  close(): void {
    this.#closed = true;
    this.#stopRenewing();
    this.#returnIdle();
  }

  #stopRenewing(): void {
    clearInterval(this.#renewTimer);
    this.#renewTimer = undefined;
  }

  #wait(tenantId: string, shardId: string, refusal: SlotRefusal, signal: AbortSignal | undefined): Promise<SlotGrant> {
    if (signal?.aborted) return Promise.resolve({ ok: false, reason: 'aborted' });
    const queue = this.#queues.get(tenantId) ?? [];
    if (queue.length >= this.options.maxQueued || this.options.queueTimeoutMs === 0) return Promise.resolve({ ok: false, reason: refusal });
    this.#queues.set(tenantId, queue);
    return new Promise<SlotGrant>((resolve) => {
      let settled = false;
      const waiter: Waiter = {
        shardId,
        refusal,
        settle: (grant) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          const i = queue.indexOf(waiter);
          if (i >= 0) queue.splice(i, 1);
          if (queue.length === 0 && this.#queues.get(tenantId) === queue) this.#queues.delete(tenantId);
          resolve(grant);
        },
      };
      const onAbort = () => waiter.settle({ ok: false, reason: 'aborted' });
      const timer = setTimeout(() => waiter.settle({ ok: false, reason: waiter.refusal }), this.options.queueTimeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      queue.push(waiter);
      this.#pump(tenantId);
    });
  }

  /** Keeps asking for the tenant's first waiter until its queue is empty: one attempt at a time per tenant. */
  #pump(tenantId: string): void {
    const running = this.#pumps.get(tenantId);
    if (running !== undefined) return;
    const pump: Pump = { kicked: false, wake: () => (pump.kicked = true) };
    this.#pumps.set(tenantId, pump);
    void (async () => {
      let attempt = 0;
      try {
        for (;;) {
          const head = this.#queues.get(tenantId)?.[0];
          if (head === undefined) break;
          pump.kicked = false;
          const result = await this.#try(tenantId, head.shardId);
          if (result.ok) {
            attempt = 0;
            // the head may have timed out or gone meanwhile: then the slot goes to the next one (or back)
            if (this.#queues.get(tenantId)?.[0] === head) head.settle(result);
            else result.release();
            continue;
          }
          for (const w of this.#queues.get(tenantId) ?? []) if (w.shardId === head.shardId) w.refusal = result.reason;
          if (pump.kicked) continue;
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, pollDelayMs(attempt++, this.#random()));
            pump.wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          pump.wake = () => (pump.kicked = true);
        }
      } finally {
        this.#pumps.delete(tenantId);
      }
    })();
  }

  /** One attempt: Redis when it can answer, else this pod's share. */
  async #try(tenantId: string, shardId: string): Promise<Attempt> {
    if ((this.#byTenant.get(tenantId) ?? 0) >= (this.options.podTenantCeiling ?? Infinity)) return { ok: false, reason: 'tenant' };
    const kept = this.#lingering.take(tenantId, shardId);
    if (kept !== undefined) return { ok: true, release: this.#hold(kept) };
    const lease: SlotLease = { id: `${this.#podId}:${(this.#seq++).toString(36)}`, tenantId, shardId };
    const slots = this.options.slots;
    if (slots !== undefined) {
      if (!slots.connected) this.#toLocal('Redis is not connected');
      // while falling back, one request at a time finds out whether Redis answers again; the others do not wait on it
      else if (this.#now() >= this.#redisDownUntil && (this.#shared || !this.#probing)) {
        const probe = !this.#shared;
        if (probe) this.#probing = true;
        try {
          let reply = await slots.acquire(lease, this.options.limits);
          if (reply.verdict === 'shard' && this.#lingering.on(shardId)) {
            // slots this pod keeps for other tenants fill the shard: they go back, and Redis is asked again
            await Promise.all(this.#returnIdle((held) => held.shardId === shardId));
            reply = await slots.acquire(lease, this.options.limits);
          }
          this.#toShared();
          return reply.verdict === 'granted' ? { ok: true, release: this.#hold(lease) } : { ok: false, reason: reply.verdict };
        } catch (err) {
          this.#failed(err);
        } finally {
          if (probe) this.#probing = false;
        }
      }
      this.options.onFallback?.();
    }
    // the same lease id as above: if Redis ran a timed-out acquire after all, renewals keep one member, not two
    const limits = slots === undefined ? this.options.limits : podLimits(this.options.limits, this.options.expectedPods);
    const verdict = decide({ tenant: this.#byTenant.get(tenantId) ?? 0, shard: this.#byShard.get(shardId) ?? 0 }, limits);
    return verdict === 'granted' ? { ok: true, release: this.#hold(lease) } : { ok: false, reason: verdict };
  }

  #hold(lease: SlotLease): Release {
    this.#held.set(lease.id, lease);
    this.#byTenant.set(lease.tenantId, (this.#byTenant.get(lease.tenantId) ?? 0) + 1);
    this.#byShard.set(lease.shardId, (this.#byShard.get(lease.shardId) ?? 0) + 1);
    if (this.options.slots !== undefined && this.#renewTimer === undefined && !this.#closed) {
      this.#renewTimer = setInterval(() => void this.#renew(), renewIntervalMs(this.options.leaseTtlMs));
      this.#renewTimer.unref();
    }
    return this.#releaser(lease);
  }

  #releaser(lease: SlotLease): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#queues.get(lease.tenantId)?.[0];
      if (next !== undefined && next.shardId === lease.shardId) {
        // straight to the tenant's next waiter: no round trip, and nobody overtakes it
        next.settle({ ok: true, release: this.#releaser(lease) });
        return;
      }
      decrement(this.#byTenant, lease.tenantId);
      decrement(this.#byShard, lease.shardId);
      if (!this.#linger(lease)) void this.#giveBack(lease);
    };
  }

  /** Keeps a released lease for the tenant's next request, when it is Redis's and nobody here waits for its shard. */
  #linger(lease: SlotLease): boolean {
    if ((this.options.lingerMs ?? 0) <= 0 || this.#closed || !this.#shared || this.options.slots?.connected !== true) return false;
    for (const queue of this.#queues.values()) if (queue[0]?.shardId === lease.shardId) return false;
    this.#lingering.keep(lease);
    return true;
  }

  /**
   * Ends a lease this pod holds: in Redis when it answers (a failed release costs nothing but
   * time: the lease ends at its expiry). Settles once Redis has answered, never rejects.
   */
  #giveBack(lease: SlotLease): Promise<void> {
    this.#held.delete(lease.id);
    const slots = this.options.slots;
    if (slots === undefined || !slots.connected) {
      this.#kick(lease);
      return Promise.resolve();
    }
    return slots
      .release(lease)
      .catch(() => undefined)
      .finally(() => this.#kick(lease));
  }

  /** Lingering leases back: all (closing, or Redis failed: decisions are per pod now), or a shard's (another tenant needs it). */
  #returnIdle(which?: (lease: SlotLease) => boolean): Array<Promise<void>> {
    return this.#lingering.drain(which).map((lease) => this.#giveBack(lease));
  }

  /** A slot came free: the waiting tenants it may serve ask again now rather than at their next poll. */
  #kick(lease: SlotLease): void {
    for (const [tenantId, queue] of this.#queues) {
      if (tenantId === lease.tenantId || queue[0]?.shardId === lease.shardId) this.#pumps.get(tenantId)?.wake();
    }
  }

  /** Pushes the expiry of every held lease, one round trip per shard; adds back leases taken while Redis was out. */
  async #renew(): Promise<void> {
    const slots = this.options.slots;
    if (slots === undefined || this.#renewing) return;
    if (this.#held.size === 0) {
      this.#stopRenewing();
      return;
    }
    if (!slots.connected) {
      this.#toLocal('Redis is not connected');
      return;
    }
    const byShard = new Map<string, SlotLease[]>();
    for (const lease of this.#held.values()) byShard.set(lease.shardId, [...(byShard.get(lease.shardId) ?? []), lease]);
    this.#renewing = true;
    try {
      await Promise.all([...byShard].map(([shardId, leases]) => slots.renew(shardId, leases)));
      this.#redisDownUntil = 0;
      this.#toShared();
    } catch (err) {
      this.#failed(err);
    } finally {
      this.#renewing = false;
    }
  }

  #failed(err: unknown): void {
    this.#redisDownUntil = this.#now() + (this.options.backoffMs ?? 1000);
    this.#toLocal(err instanceof Error ? err.message : String(err));
  }

  // logged once per change of mode, never per request
  #toLocal(reason: string): void {
    if (!this.#shared) return;
    this.#shared = false;
    this.#returnIdle();
    const perPod = podLimits(this.options.limits, this.options.expectedPods);
    this.options.logger.warn({ err: reason, perPodTenant: perPod.tenant, perPodShard: perPod.shard }, 'concurrency budget: Redis failed; each pod allows its share (fleet caps ÷ expectedPods)');
  }

  #toShared(): void {
    if (this.#shared) return;
    this.#shared = true;
    this.options.logger.info('concurrency budget: Redis answers again; slots shared across pods');
  }
}

function decrement(counts: Map<string, number>, key: string): void {
  const n = (counts.get(key) ?? 0) - 1;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}
