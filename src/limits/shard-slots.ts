import type { Redis } from 'ioredis';
import { cacheKeys } from '../cache/cache-keys.js';
import { parseAcquireReply, slotLeaseScript, type AcquireReply } from './slot-lease-script.js';
import type { SlotLimits } from './slot-math.js';

/** One slot as held: its lease id (unique across pods), whose it is, and where. */
export interface SlotLease {
  readonly id: string;
  readonly tenantId: string;
  readonly shardId: string;
}

export interface ShardSlotsOptions {
  /** the limits' Redis client (fail-fast: no offline queue) */
  readonly redis: Redis;
  /** ms a lease counts without renewal: how long a killed pod's slots stay taken */
  readonly leaseTtlMs: number;
  /** max ms one exchange may take before the caller decides without Redis */
  readonly timeoutMs: number;
}

/**
 * The Redis side of the concurrency budget: every pod's slot leases, per shard and per
 * tenant, through `slot-lease-script.ts`. Each call either answers within `timeoutMs` or
 * rejects; what to do then is the budget's policy, not this class's.
 */
export class ShardSlots {
  constructor(private readonly options: ShardSlotsOptions) {}

  /** False while the client is not connected: a call would fail at once (no offline queue). */
  get connected(): boolean {
    return this.options.redis.status === 'ready';
  }

  /** Takes a slot for `lease` unless the tenant's or the shard's fleet-wide cap is reached. */
  async acquire(lease: SlotLease, limits: SlotLimits): Promise<AcquireReply> {
    const reply = await this.#run(
      [cacheKeys.shardSlots(lease.shardId), cacheKeys.tenantSlots(lease.shardId, lease.tenantId)],
      ['acquire', String(this.options.leaseTtlMs), lease.id, String(limits.tenant), String(limits.shard)],
    );
    return parseAcquireReply(reply);
  }

  /** Pushes the expiry of leases held on one shard (one round trip for all of them); adds back any that expired. */
  async renew(shardId: string, leases: readonly SlotLease[]): Promise<void> {
    if (leases.length === 0) return;
    const keys = [cacheKeys.shardSlots(shardId), ...leases.map((l) => cacheKeys.tenantSlots(shardId, l.tenantId))];
    const reply = await this.#run(keys, ['renew', String(this.options.leaseTtlMs), ...leases.map((l) => l.id)]);
    if (reply !== leases.length) throw new Error(`unexpected slot renewal reply ${JSON.stringify(reply)}`);
  }

  /** Gives a slot back; when this fails the lease still ends at its expiry. */
  async release(lease: SlotLease): Promise<void> {
    await this.#run([cacheKeys.shardSlots(lease.shardId), cacheKeys.tenantSlots(lease.shardId, lease.tenantId)], ['release', String(this.options.leaseTtlMs), lease.id]);
  }

  #run(keys: readonly string[], args: readonly string[]): Promise<unknown> {
    return slotLeaseScript.run(this.options.redis, keys, args, this.options.timeoutMs);
  }
}
