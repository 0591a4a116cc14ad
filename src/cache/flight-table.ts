/** The view a running load has of itself. */
export interface Flight {
  /** true once the key was invalidated while the load ran: its result may predate the write */
  readonly stale: boolean;
}

class FlightEntry<R> implements Flight {
  stale = false;
  promise: Promise<R> | undefined;
}

/**
 * Single-flight per key: concurrent callers of one key share one load. Invalidating a
 * key marks its running load stale (so its result is not cached) and detaches it, so
 * callers arriving after the write start a fresh load instead of joining the old one.
 */
export class FlightTable<R> {
  readonly #flights = new Map<string, FlightEntry<R>>();

  run(key: string, work: (flight: Flight) => Promise<R>): Promise<R> {
    const running = this.#flights.get(key);
    if (running?.promise !== undefined) return running.promise;
    const entry = new FlightEntry<R>();
    this.#flights.set(key, entry);
    entry.promise = work(entry).finally(() => {
      // a newer flight may own the key by now (this one was invalidated)
      if (this.#flights.get(key) === entry) this.#flights.delete(key);
    });
    return entry.promise;
  }

  invalidate(key: string): void {
    const entry = this.#flights.get(key);
    if (entry === undefined) return;
    entry.stale = true;
    this.#flights.delete(key);
  }

  invalidateWhere(predicate: (key: string) => boolean): void {
    for (const key of [...this.#flights.keys()]) if (predicate(key)) this.invalidate(key);
  }

  invalidateAll(): void {
    this.invalidateWhere(() => true);
  }

  get size(): number {
    return this.#flights.size;
  }
}
