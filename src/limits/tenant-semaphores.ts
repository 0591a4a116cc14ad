export interface TenantSemaphoresOptions {
  /** requests of one tenant doing database work at once in this process */
  readonly maxConcurrent: number;
  /** requests of one tenant waiting for a slot; past it a request is refused at once */
  readonly maxQueued: number;
  /** max ms a request waits for a slot before it is refused */
  readonly queueTimeoutMs: number;
}

/** Gives the slot back (to the next waiter, if any); calling it again does nothing. */
export type Release = () => void;

export type Acquired = { readonly ok: true; readonly release: Release } | { readonly ok: false; readonly reason: 'queue_full' | 'timeout' | 'aborted' };

interface Waiter {
  readonly grant: (release: Release) => void;
}

interface Entry {
  active: number;
  readonly waiters: Waiter[];
}

/**
 * A counting semaphore per tenant, with a bounded FIFO queue and a bounded wait. A tenant
 * appears here only while it has requests in flight or waiting: the entry is removed with
 * its last slot, so idle tenants cost nothing.
 */
export class TenantSemaphores {
  readonly #entries = new Map<string, Entry>();

  constructor(private readonly options: TenantSemaphoresOptions) {}

  /** A slot now, or undefined when all of the tenant's slots are taken. */
  tryAcquire(tenantId: string): Release | undefined {
    let entry = this.#entries.get(tenantId);
    if (entry === undefined) {
      entry = { active: 0, waiters: [] };
      this.#entries.set(tenantId, entry);
    }
    if (entry.active >= this.options.maxConcurrent) return undefined;
    entry.active++;
    return this.#releaser(tenantId, entry);
  }

  /** A slot now or within `queueTimeoutMs`, in arrival order; else why not. */
  acquire(tenantId: string, signal?: AbortSignal): Promise<Acquired> {
    const now = this.tryAcquire(tenantId);
    if (now !== undefined) return Promise.resolve({ ok: true, release: now });
    const entry = this.#entries.get(tenantId)!;
    if (signal?.aborted) return Promise.resolve({ ok: false, reason: 'aborted' });
    if (entry.waiters.length >= this.options.maxQueued) return Promise.resolve({ ok: false, reason: 'queue_full' });

    return new Promise<Acquired>((resolve) => {
      const leave = (reason: 'timeout' | 'aborted') => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const i = entry.waiters.indexOf(waiter);
        if (i >= 0) entry.waiters.splice(i, 1);
        this.#dropIfIdle(tenantId, entry);
        resolve({ ok: false, reason });
      };
      const onAbort = () => leave('aborted');
      const waiter: Waiter = {
        grant: (release) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve({ ok: true, release });
        },
      };
      const timer = setTimeout(() => leave('timeout'), this.options.queueTimeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      entry.waiters.push(waiter);
    });
  }

  /** Tenants with requests in flight or waiting. */
  get size(): number {
    return this.#entries.size;
  }

  inFlight(tenantId: string): { active: number; waiting: number } {
    const entry = this.#entries.get(tenantId);
    return { active: entry?.active ?? 0, waiting: entry?.waiters.length ?? 0 };
  }

  #releaser(tenantId: string, entry: Entry): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = entry.waiters.shift();
      // the slot passes straight to the next waiter: `active` stays, nobody can overtake
      if (next !== undefined) next.grant(this.#releaser(tenantId, entry));
      else {
        entry.active--;
        this.#dropIfIdle(tenantId, entry);
      }
    };
  }

  #dropIfIdle(tenantId: string, entry: Entry): void {
    if (entry.active === 0 && entry.waiters.length === 0 && this.#entries.get(tenantId) === entry) this.#entries.delete(tenantId);
  }
}
