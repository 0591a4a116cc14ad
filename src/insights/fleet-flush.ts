import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

type FlushMessage = { readonly kind: 'usage-flush'; readonly nonce: string };

/** The gateways' broadcast channel (the invalidation bus), as far as a fleet flush uses it. */
export interface FlushChannel {
  readonly connected: boolean;
  /** how many processes received it (this one included while subscribed) */
  broadcast(message: FlushMessage): Promise<number>;
  onMessage(handler: (message: { readonly kind: string; readonly nonce?: string }, own: boolean) => void): () => void;
}

const ackKey = (nonce: string) => `shardgate:usage:flushed:${nonce}`;
/** how often the asking pod looks at the count of pods that flushed */
const POLL_MS = 10;

/**
 * Read-your-fleet's-counts for tenant usage: before an answer, every other pod is asked
 * (over the broadcast channel) to flush its counts to Redis now and count itself in under
 * the request's nonce; the asking pod waits until as many as received the question have,
 * or `waitMs`. Without it an answer would miss up to a flush interval of each other pod's
 * requests — the very requests an operator just watched go by.
 */
export class FleetFlush {
  readonly #detach: () => void;

  constructor(
    private readonly channel: FlushChannel,
    private readonly redis: Redis,
    /** this pod's own flush */
    flushLocal: () => Promise<void>,
    private readonly waitMs: number,
    private readonly logger: Logger,
  ) {
    this.#detach = channel.onMessage((message, own) => {
      if (own || message.kind !== 'usage-flush' || message.nonce === undefined) return;
      const key = ackKey(message.nonce);
      void flushLocal()
        .then(() => this.redis.multi().incr(key).pexpire(key, 60_000).exec())
        .catch((err: unknown) => this.logger.warn({ err: (err as Error).message }, 'usage flush asked by another pod failed'));
    });
  }

  /** Every other pod's counts in Redis (as far as they answer within `waitMs`). */
  async request(): Promise<void> {
    const nonce = randomUUID();
    const receivers = await this.channel.broadcast({ kind: 'usage-flush', nonce });
    const others = receivers - (this.channel.connected ? 1 : 0);
    if (others <= 0) return;
    const deadline = Date.now() + this.waitMs;
    while (Date.now() < deadline) {
      const flushed = Number((await this.redis.get(ackKey(nonce)).catch(() => null)) ?? 0);
      if (flushed >= others) return;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    this.logger.debug({ others, waitMs: this.waitMs }, 'usage read without every pod flushed');
  }

  close(): void {
    this.#detach();
  }
}
