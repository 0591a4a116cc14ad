import type { SlotLease } from './shard-slots.js';

interface Idle {
  readonly lease: SlotLease;
  readonly timer: NodeJS.Timeout;
}

/**
 * Released slots a pod still leases, kept by tenant and shard for the tenant's next request
 * there, each for `lingerMs`; when a linger ends unused the lease is handed to `expired` (to
 * go back to Redis). The most recently released is taken first.
 */
export class LingeringSlots {
  readonly #byKey = new Map<string, Idle[]>();

  constructor(
    private readonly lingerMs: number,
    private readonly expired: (lease: SlotLease) => void,
  ) {}

  get size(): number {
    let n = 0;
    for (const list of this.#byKey.values()) n += list.length;
    return n;
  }

  keep(lease: SlotLease): void {
    const key = keyOf(lease.tenantId, lease.shardId);
    const list = this.#byKey.get(key) ?? [];
    const idle: Idle = {
      lease,
      timer: setTimeout(() => {
        const i = list.indexOf(idle);
        if (i < 0) return;
        list.splice(i, 1);
        if (list.length === 0 && this.#byKey.get(key) === list) this.#byKey.delete(key);
        this.expired(lease);
      }, this.lingerMs),
    };
    idle.timer.unref();
    list.push(idle);
    this.#byKey.set(key, list);
  }

  /** A lingering lease of the tenant on the shard, no longer lingering; undefined when there is none. */
  take(tenantId: string, shardId: string): SlotLease | undefined {
    const key = keyOf(tenantId, shardId);
    const list = this.#byKey.get(key);
    const idle = list?.pop();
    if (idle === undefined) return undefined;
    clearTimeout(idle.timer);
    if (list!.length === 0) this.#byKey.delete(key);
    return idle.lease;
  }

  /** Whether a slot of the shard lingers here. */
  on(shardId: string): boolean {
    for (const list of this.#byKey.values()) if (list[0]!.lease.shardId === shardId) return true;
    return false;
  }

  /** The lingering leases `which` selects (all by default), no longer lingering. */
  drain(which: (lease: SlotLease) => boolean = () => true): SlotLease[] {
    const out: SlotLease[] = [];
    for (const [key, list] of this.#byKey) {
      if (!which(list[0]!.lease)) continue;
      this.#byKey.delete(key);
      for (const idle of list) {
        clearTimeout(idle.timer);
        out.push(idle.lease);
      }
    }
    return out;
  }
}

function keyOf(tenantId: string, shardId: string): string {
  return `${tenantId}\u0000${shardId}`;
}
