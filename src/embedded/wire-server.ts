import net from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import { BackendTurns, type EmbeddedLog } from './backend-turns.js';
import { WireConnection } from './wire-connection.js';

export interface WireServerOptions {
  readonly name: string;
  readonly maxConnections: number;
  readonly log: EmbeddedLog;
}

/**
 * A loopback PostgreSQL endpoint for one PGlite instance, used instead of
 * `@electric-sql/pglite-socket`'s PGLiteSocketServer (0.2.17). That server queues single
 * protocol *messages* from all sockets in one FIFO and pins a socket only while
 * `isInTransaction()` is true, which an extended-protocol batch (Parse/Bind/Execute/Sync)
 * never is. When a batch arrives in more than one TCP read (any parameter over ~64 KB,
 * e.g. a JSONB payload), another socket's Parse slips between its Parse and Bind and the
 * Bind runs against the wrong statement: "bind message supplies 2 parameters, but prepared
 * statement "" requires 1", or silently wrong rows when the shapes match
 * (electric-sql/pglite#1046). Its queue also stays "processing" forever after one
 * internal throw. Here a socket owns the backend from its first message until the backend
 * is idle again; see BackendTurns.
 */
export class WireServer {
  readonly #connections = new Set<WireConnection>();
  readonly #server: net.Server;
  #nextId = 1;
  #closing: Promise<void> | undefined;

  private constructor(backend: BackendTurns, options: WireServerOptions) {
    this.#server = net.createServer((socket) => {
      if (this.#closing !== undefined) {
        socket.destroy();
      } else if (this.#connections.size >= options.maxConnections) {
        // answer like PostgreSQL does, so pools report a clear error instead of a reset;
        // destroy once flushed, as a client that never closes its side would keep close() waiting
        socket.on('error', () => undefined);
        socket.end(tooManyConnections(options.maxConnections), () => socket.destroy());
      } else {
        const connection = new WireConnection(this.#nextId++, socket, backend, options.log);
        this.#connections.add(connection);
        socket.once('close', () => this.#connections.delete(connection));
      }
    });
  }

  static async listen(db: PGlite, options: WireServerOptions): Promise<WireServer> {
    const wire = new WireServer(new BackendTurns(db, options.name, options.log), options);
    await new Promise<void>((resolve, reject) => {
      wire.#server.once('error', reject);
      wire.#server.listen(0, '127.0.0.1', () => {
        wire.#server.off('error', reject);
        resolve();
      });
    });
    return wire;
  }

  get port(): number {
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new Error('embedded server is not listening on TCP');
    return address.port;
  }

  /** Stops accepting, drops every client and waits until none of them is inside PGlite. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      const connections = [...this.#connections];
      for (const connection of connections) connection.destroy();
      await Promise.all(connections.map((c) => c.finished));
      await closed;
    })();
    return this.#closing;
  }
}

/** ErrorResponse FATAL 53300, what a real server sends past max_connections. */
function tooManyConnections(max: number): Buffer {
  const fields = ['SFATAL', 'VFATAL', 'C53300', `Msorry, too many clients already (embedded limit ${max})`];
  const body = Buffer.concat([...fields.map((f) => Buffer.from(`${f}\0`, 'utf8')), Buffer.from([0])]);
  const header = Buffer.alloc(5);
  header.write('E', 0, 'latin1');
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}
