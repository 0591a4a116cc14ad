import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { answerClientErrors } from './client-errors.js';

/** An HTTP listener that can drain: stop accepting, let in-flight requests finish. */
export class Listener {
  private constructor(
    private readonly server: Server,
    readonly port: number,
    readonly host: string,
  ) {}

  static async listen(app: Express, port: number, host: string): Promise<Listener> {
    const server = createServer(app);
    // longer than typical load balancer idle timeouts, so the LB closes first
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    // oversized headers and broken framing get problem+json too, not Node's empty 431 / 400
    answerClientErrors(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address() as AddressInfo;
    return new Listener(server, address.port, host);
  }

  get url(): string {
    const host = this.host === '0.0.0.0' || this.host === '::' ? '127.0.0.1' : this.host;
    return `http://${host}:${this.port}`;
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
