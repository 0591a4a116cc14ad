import ipaddr from 'ipaddr.js';

export interface FailedAuthThrottleOptions {
  /** wrong credentials one client may present within a window; then it is refused until the window ends */
  readonly maxFailures: number;
  /** ms from a client's first counted failure to the end of its window */
  readonly windowMs: number;
  /** clients remembered at most: past it, ended windows are swept, then the least recently failed go */
  readonly maxClients: number;
  /** how often (at most) a failure also sweeps ended windows */
  readonly sweepIntervalMs?: number;
  /** monotonic ms clock */
  readonly now?: () => number;
}

interface Window {
  failures: number;
  readonly startedAt: number;
}

export type ThrottleVerdict = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterMs: number };

/**
 * The key a client address is counted under: IPv4 as it is (an IPv4-mapped IPv6 address
 * too), IPv6 by its /64, since one host usually has a whole /64 to pick addresses from.
 * Text that is no address (a unix socket, `undefined`) is counted as it is.
 */
export function clientKey(address: string | undefined): string {
  if (address === undefined || address === '') return 'unknown';
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.process(address.replace(/%.*$/, '')); // process(): ::ffff:a.b.c.d becomes a.b.c.d
  } catch {
    return address;
  }
  if (parsed.kind() === 'ipv4') return parsed.toString();
  const network = ipaddr.IPv6.networkAddressFromCIDR(`${parsed.toNormalizedString()}/64`);
  return `${network.toRFC5952String()}/64`;
}

/**
 * Failed admin logins per client: a fixed window opens at a client's first wrong token,
 * and after `maxFailures` in it the client is refused, whatever it presents, until the
 * window ends (a guesser gains nothing from also knowing when it hit). Only failures are
 * stored, each client's own: a right token from one address resets nobody's count. The map
 * is bounded by `maxClients` and swept, so a flood from many addresses costs bounded memory
 * (at worst it makes the throttle forget the oldest failures).
 */
export class FailedAuthThrottle {
  readonly #windows = new Map<string, Window>();
  readonly #now: () => number;
  readonly #sweepIntervalMs: number;
  #lastSweep: number;

  constructor(private readonly options: FailedAuthThrottleOptions) {
    this.#now = options.now ?? (() => performance.now());
    this.#sweepIntervalMs = options.sweepIntervalMs ?? Math.min(options.windowMs, 60_000);
    this.#lastSweep = this.#now();
  }

  /** Whether the client may try a credential now. */
  check(client: string): ThrottleVerdict {
    const now = this.#now();
    const window = this.#windows.get(client);
    if (window === undefined) return { allowed: true };
    const endsAt = window.startedAt + this.options.windowMs;
    if (now >= endsAt) {
      this.#windows.delete(client);
      return { allowed: true };
    }
    if (window.failures < this.options.maxFailures) return { allowed: true };
    return { allowed: false, retryAfterMs: endsAt - now };
  }

  /** Counts one wrong credential from the client. */
  recordFailure(client: string): void {
    const now = this.#now();
    if (now - this.#lastSweep >= this.#sweepIntervalMs) this.sweep(now);
    let window = this.#windows.get(client);
    if (window === undefined || now >= window.startedAt + this.options.windowMs) window = { failures: 0, startedAt: now };
    window.failures++;
    // delete, then set: the Map's order is the order of last failure
    this.#windows.delete(client);
    this.#windows.set(client, window);
    if (this.#windows.size > this.options.maxClients) {
      this.sweep(now);
      for (const oldest of this.#windows.keys()) {
        if (this.#windows.size <= this.options.maxClients) break;
        this.#windows.delete(oldest);
      }
    }
  }

  /** Drops every window that has ended by `now`. */
  sweep(now = this.#now()): void {
    this.#lastSweep = now;
    for (const [client, window] of this.#windows) if (now >= window.startedAt + this.options.windowMs) this.#windows.delete(client);
  }

  /** clients with a window open */
  get size(): number {
    return this.#windows.size;
  }
}
