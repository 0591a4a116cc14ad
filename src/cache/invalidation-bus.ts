import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { cacheKeys } from './cache-keys.js';
import { decodeInvalidation, encodeInvalidation, type InvalidationMessage } from './invalidation-message.js';
import type { InvalidationChannel, InvalidationHandler } from './shared-tier.js';
import { watchConnection } from './redis-client.js';

export interface InvalidationBusOptions {
  readonly logger: Logger;
  /** connection name of the subscriber in `CLIENT LIST` and logs */
  readonly name: string;
  /** ms between PINGs on the subscriber: a hung Redis never closes the socket, so silence must be probed */
  readonly heartbeatMs: number;
  /** ms a subscriber command (SUBSCRIBE, PING) may take; default heartbeatMs */
  readonly heartbeatTimeoutMs?: number;
  /** id stamped on published messages; default a random UUID per bus */
  readonly origin?: string;
}

/**
 * Broadcasts invalidations over Redis pub/sub, on a dedicated subscriber connection.
 * Pub/sub is at-most-once: `connected` is true only while subscribed, and every
 * (re)subscription fires `onReconnect` so the caller can drop what it may have missed.
 */
export class InvalidationBus implements InvalidationChannel {
  readonly origin: string;
  readonly #channel = cacheKeys.invalidationChannel();
  readonly #messageHandlers = new Set<InvalidationHandler>();
  readonly #reconnectHandlers = new Set<() => void>();
  #subscriber: Redis | undefined;
  #detach: (() => void) | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #pinging = false;
  #connected = false;
  // bumped on every ready/close, so a SUBSCRIBE reply from an older connection is ignored
  #epoch = 0;
  #publishFailing = false;

  constructor(
    private readonly redis: Redis,
    private readonly options: InvalidationBusOptions,
  ) {
    this.origin = options.origin ?? randomUUID();
  }

  get connected(): boolean {
    return this.#connected;
  }

  start(): void {
    if (this.#subscriber !== undefined) return;
    const sub = this.redis.duplicate({
      connectionName: this.options.name,
      commandTimeout: this.options.heartbeatTimeoutMs ?? this.options.heartbeatMs,
      // the bus subscribes on every ready itself, and only then counts as connected
      autoResubscribe: false,
      lazyConnect: true,
    });
    this.#subscriber = sub;
    this.#detach = watchConnection(sub, this.options.logger, this.options.name);
    sub.on('ready', () => void this.#subscribe(sub));
    sub.on('close', () => this.#lost());
    sub.on('message', (channel: string, raw: string) => this.#deliver(channel, raw));
    // a failed first connect is reported through 'error' and retried by the retry strategy
    sub.connect().catch(() => undefined);
    this.#heartbeat = setInterval(() => this.#ping(sub), this.options.heartbeatMs);
    this.#heartbeat.unref();
  }

  async publish(message: InvalidationMessage): Promise<void> {
    await this.broadcast(message);
  }

  /** `publish`, answering how many subscribers (gateway processes, this one included when subscribed) received it; 0 when it failed. */
  async broadcast(message: InvalidationMessage): Promise<number> {
    try {
      const receivers = await this.redis.publish(this.#channel, encodeInvalidation(message, this.origin));
      this.#publishFailing = false;
      return receivers;
    } catch (err) {
      // other gateways keep entries until their TTLs; log the first failure of a run only
      if (!this.#publishFailing) this.options.logger.warn({ err: (err as Error).message, kind: message.kind }, 'invalidation not broadcast');
      this.#publishFailing = true;
      return 0;
    }
  }

  onMessage(handler: InvalidationHandler): () => void {
    this.#messageHandlers.add(handler);
    return () => this.#messageHandlers.delete(handler);
  }

  onReconnect(handler: () => void): () => void {
    this.#reconnectHandlers.add(handler);
    return () => this.#reconnectHandlers.delete(handler);
  }

  close(): void {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    this.#connected = false;
    this.#detach?.();
    this.#subscriber?.disconnect(false);
    this.#subscriber = undefined;
  }

  async #subscribe(sub: Redis): Promise<void> {
    const epoch = ++this.#epoch;
    try {
      await sub.subscribe(this.#channel);
    } catch (err) {
      // dropped again before the subscription took (the next ready retries), or refused (ACL)
      if (epoch === this.#epoch) this.options.logger.warn({ err: (err as Error).message }, 'invalidation subscribe failed');
      return;
    }
    if (epoch !== this.#epoch || sub.status !== 'ready') return;
    this.#connected = true;
    for (const handler of this.#reconnectHandlers) this.#safely(handler);
  }

  #lost(): void {
    this.#epoch++;
    this.#connected = false;
  }

  #ping(sub: Redis): void {
    if (this.#pinging || sub.status !== 'ready') return;
    this.#pinging = true;
    const timeoutMs = this.options.heartbeatTimeoutMs ?? this.options.heartbeatMs;
    sub
      .ping()
      .catch(() => {
        if (sub !== this.#subscriber || sub.status !== 'ready') return;
        this.#lost();
        // not disconnect(): it ends the socket gracefully and a hung server never answers the
        // FIN, so the client stays "ready" for disconnectTimeout (2 s); destroy closes it now
        sub.stream.destroy(new Error(`no PING reply within ${timeoutMs} ms; reconnecting`));
      })
      .finally(() => {
        this.#pinging = false;
      });
  }

  #deliver(channel: string, raw: string): void {
    if (channel !== this.#channel) return;
    const message = decodeInvalidation(raw);
    if (message === undefined) {
      this.options.logger.warn({ channel }, 'malformed invalidation ignored');
      return;
    }
    const own = message.origin === this.origin;
    for (const handler of this.#messageHandlers) this.#safely(() => handler(message, own));
  }

  #safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.options.logger.error({ err: (err as Error).message }, 'invalidation handler failed');
    }
  }
}
