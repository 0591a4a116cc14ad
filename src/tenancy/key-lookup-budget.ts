import { LocalBuckets } from '../limits/local-buckets.js';
import { TenantSemaphores } from '../limits/tenant-semaphores.js';
import { CatalogUnavailableError, GatewayError } from '../errors/errors.js';

export interface KeyLookupBudgetOptions {
  /** catalog lookups of unknown keys one client address may cause per second (and its burst) */
  readonly lookupsPerSecondPerClient: number;
  readonly lookupBurstPerClient: number;
  /** catalog lookups of keys at once in this process (the catalog pool is small), and waiting */
  readonly maxConcurrentLookups: number;
  readonly maxQueuedLookups: number;
  /** client addresses remembered at most (their buckets come back full when forgotten) */
  readonly maxClients?: number;
}

/** The one key of the process-wide lookup semaphore. */
const ALL = 'catalog';

/**
 * What a key the gateway does not know may cost: a catalog lookup, at most
 * `lookupsPerSecondPerClient` lookups that find nothing per client address (429 past it,
 * no query), and at most
 * `maxConcurrentLookups` in flight in the process (503 past the queue). Known keys never
 * reach this: a flood of random keys spends its own budget, not real tenants' requests.
 */
export class KeyLookupBudget {
  readonly #perClient: LocalBuckets;
  readonly #inFlight: TenantSemaphores;

  constructor(private readonly options: KeyLookupBudgetOptions) {
    this.#perClient = new LocalBuckets({ maxKeys: options.maxClients ?? 10_000 });
    this.#inFlight = new TenantSemaphores({ maxConcurrent: options.maxConcurrentLookups, maxQueued: options.maxQueuedLookups, queueTimeoutMs: 2_000 });
  }

  /**
   * Runs `lookup` within the budget; `found` says whether it found a key. Only misses are
   * charged to the address (a lookup is paid for up front and refunded when the key exists),
   * so a client bringing many new, real keys (tenants just created) is never refused.
   */
  async run<T>(client: string, lookup: () => Promise<T>, found: (result: T) => boolean): Promise<T> {
    const limits = { ratePerSec: this.options.lookupsPerSecondPerClient, burst: this.options.lookupBurstPerClient };
    const taken = this.#perClient.take(client, limits);
    if (!taken.allowed) {
      throw new GatewayError('RATE_LIMITED', 'Too many unknown API keys from this address', { retryAfterSeconds: Math.max(1, Math.ceil(taken.retryAfterMs / 1000)) });
    }
    const slot = await this.#inFlight.acquire(ALL);
    if (!slot.ok) throw new CatalogUnavailableError({ cause: new Error(`key lookups ${slot.reason}`) });
    try {
      const result = await lookup();
      if (found(result)) this.#perClient.refund(client, limits);
      return result;
    } finally {
      slot.release();
    }
  }
}
