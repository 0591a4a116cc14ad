/** Thrown at the next step of a run whose lease another gateway took: stop, touch nothing more. */
export class LeaseLost extends Error {}

/**
 * A catalog lease kept alive on a timer for as long as its work runs, not only when the work
 * reaches a step: a statement waiting minutes on a lock, or a restore streaming for an hour,
 * must not let the lease lapse under a live runner (another gateway would take the record
 * over and both would drive it). Renewed three times a lease's life; lost when another owner
 * took it, or when the catalog could not be reached for most of a lease (that other owner
 * may take it as soon as it runs out).
 */
export class HeldLease {
  readonly #timer: NodeJS.Timeout;
  #renewedAt = performance.now();
  #renewing = false;
  #lost: string | undefined;

  /** `renew` takes the lease again for `leaseMs`: false when another owner holds it */
  constructor(
    private readonly what: string,
    private readonly leaseMs: number,
    private readonly renew: () => Promise<boolean>,
    private readonly onError: (err: Error) => void = () => undefined,
  ) {
    this.#timer = setInterval(() => void this.#tick(), Math.max(250, leaseMs / 3));
    this.#timer.unref();
  }

  get lost(): boolean {
    return this.#lost !== undefined;
  }

  /** Throws LeaseLost once the lease is gone: call before each write the owner alone may make. */
  check(): void {
    if (this.#lost !== undefined) throw new LeaseLost(`${this.what} is no longer ours (${this.#lost})`);
  }

  release(): void {
    clearInterval(this.#timer);
  }

  async #tick(): Promise<void> {
    if (this.#renewing || this.#lost !== undefined) return;
    this.#renewing = true;
    const started = performance.now();
    try {
      if (await this.renew()) this.#renewedAt = started;
      else this.#lose('another gateway holds it');
    } catch (err) {
      this.onError(err as Error);
      if (performance.now() - this.#renewedAt > this.leaseMs * 0.7) this.#lose('the catalog could not renew it');
    } finally {
      this.#renewing = false;
    }
  }

  #lose(why: string): void {
    this.#lost = why;
    clearInterval(this.#timer);
  }
}
