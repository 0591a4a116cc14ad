import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { answerClientErrors } from './client-errors.js';

export interface ListenerOptions {
  readonly port: number;
  readonly host: string;
  /** ms a client has to send a whole request; past it a 408 (problem+json) and the connection closes */
  readonly requestTimeoutMs: number;
  /** ms a client has to send a request's headers (below requestTimeoutMs) */
  readonly headersTimeoutMs: number;
  /** ms an idle keep-alive connection stays open */
  readonly keepAliveTimeoutMs: number;
  /** connections open at once; more are closed as they arrive */
  readonly maxConnections: number;
  /** told of each connection closed because maxConnections were open */
  readonly onConnectionRefused?: () => void;
}

/**
 * How often Node looks for requests past their timeouts (its default is 30 s, which would
 * let a 10 s headers timeout run to 40 s): often enough to honour the shortest timeout
 * within a quarter of it, at most once a second.
 */
function checkingIntervalMs(options: ListenerOptions): number {
  return Math.max(25, Math.min(1_000, Math.floor(options.headersTimeoutMs / 4)));
}

/**
 * An HTTP listener with the edge's limits (slow clients time out, connections are capped)
 * that can drain: stop accepting, let in-flight requests finish.
 */
export class Listener {
  private constructor(
    private readonly server: Server,
    readonly port: number,
    readonly host: string,
  ) {}

  static async listen(app: Express, options: ListenerOptions): Promise<Listener> {
    const server = createServer(
      {
        requestTimeout: options.requestTimeoutMs,
        headersTimeout: options.headersTimeoutMs,
        keepAliveTimeout: options.keepAliveTimeoutMs,
        connectionsCheckingInterval: checkingIntervalMs(options),
      },
      app,
    );
    server.maxConnections = options.maxConnections;
    // Node closes a connection over maxConnections before any byte is read: counting is all there is to do
    server.on('drop', () => options.onConnectionRefused?.());
    // oversized headers, broken framing and timeouts get problem+json too, not Node's empty 431 / 400 / 408
    answerClientErrors(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address() as AddressInfo;
    return new Listener(server, address.port, options.host);
  }

  get url(): string {
    const host = this.host === '0.0.0.0' || this.host === '::' ? '127.0.0.1' : this.host;
    return `http://${host.includes(':') ? `[${host}]` : host}:${this.port}`;
  }

  /** Resolves when every in-flight request has finished, or after graceMs (then cuts the rest). */
  async close(graceMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const idleSweep = setInterval(() => this.server.closeIdleConnections(), 100);
    const timer = setTimeout(() => this.server.closeAllConnections(), graceMs);
    try {
      await closed;
    } finally {
      clearInterval(idleSweep);
      clearTimeout(timer);
    }
  }
}
