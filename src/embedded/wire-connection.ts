import type { Socket } from 'node:net';
import type { BackendTurns, BackendClient, EmbeddedLog } from './backend-turns.js';

const PROTOCOL_V3 = 196_608;
const SSL_REQUEST = 80_877_103;
const GSSENC_REQUEST = 80_877_104;
const CANCEL_REQUEST = 80_877_102;

/** Frontend messages that leave session state (unnamed statement, portal) pending until Sync. */
const UNSYNCED = new Set(['P', 'B', 'D', 'E', 'C', 'H'].map((c) => c.charCodeAt(0)));
const SYNC = 'S'.charCodeAt(0);
const TERMINATE = 'X'.charCodeAt(0);
/** ReadyForQuery, idle: the last 6 bytes the backend writes once nothing is pending. */
const READY_IDLE = Buffer.from([0x5a, 0, 0, 0, 5, 0x49]);

const SYNC_MESSAGE = Buffer.from([SYNC, 0, 0, 0, 4]);
const ROLLBACK_MESSAGE = query('ROLLBACK');

function query(sql: string): Buffer {
  const body = Buffer.from(`${sql}\0`, 'utf8');
  const header = Buffer.alloc(5);
  header.write('Q', 0, 'latin1');
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

/**
 * One client socket speaking the PostgreSQL v3 protocol, relayed to the shared PGlite
 * backend. Incoming bytes are split into whole messages; every complete message in the
 * buffer goes to PGlite in one call (PGlite loops over batched messages), and the client
 * owns the backend from that call until the backend is idle again (see BackendTurns).
 * All work for this socket runs on one promise chain, so messages keep their order.
 */
export class WireConnection implements BackendClient {
  #buffer: Buffer = Buffer.alloc(0);
  #started = false;
  /** extended-protocol messages sent since the last Sync */
  #unsynced = false;
  /** last bytes the backend wrote during the latest call */
  #tail: Buffer = Buffer.alloc(0);
  #closed = false;
  #work: Promise<void> = Promise.resolve();
  readonly #finished: Promise<void>;
  #finish: () => void = () => undefined;

  constructor(
    readonly id: number,
    private readonly socket: Socket,
    private readonly backend: BackendTurns,
    private readonly log: EmbeddedLog,
  ) {
    this.#finished = new Promise((resolve) => (this.#finish = resolve));
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
      this.#enqueue(() => this.#drain());
    });
    // 'close' always follows 'error'; handling it here only keeps the error from being unhandled
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.#closed = true;
      this.#enqueue(() => this.#releaseSession());
      void this.#work.then(this.#finish);
    });
  }

  /** Settles once the socket has closed and everything it queued, clean-up included, has run. */
  get finished(): Promise<void> {
    return this.#finished;
  }

  destroy(): void {
    this.socket.destroy();
  }

  #enqueue(step: () => Promise<void>): void {
    this.#work = this.#work.then(step).catch((err: unknown) => {
      this.log('warn', `embedded connection #${this.id} failed: ${err instanceof Error ? err.message : String(err)}`);
      this.socket.destroy();
    });
  }

  async #drain(): Promise<void> {
    while (!this.#closed && !this.#started) {
      if (this.#buffer.length < 4) return;
      const length = this.#buffer.readInt32BE(0);
      if (length < 8) throw new Error('malformed startup packet');
      const packet = this.#take(length);
      if (packet === undefined) return;
      const code = packet.readInt32BE(4);
      if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
        this.socket.write('N'); // no TLS on a loopback-only socket; the client continues in clear
      } else if (code === PROTOCOL_V3) {
        this.#started = true;
        await this.#run(packet);
      } else {
        // CancelRequest included: PGlite cannot interrupt a running statement
        if (code !== CANCEL_REQUEST) this.log('warn', `embedded connection #${this.id}: unsupported startup code ${code}`);
        this.socket.destroy();
        return;
      }
    }
    let end = 0;
    let terminate = false;
    while (!this.#closed && this.#buffer.length - end >= 5) {
      const type = this.#buffer[end]!;
      const size = 1 + this.#buffer.readInt32BE(end + 1);
      if (size < 5) throw new Error('malformed message length');
      if (end + size > this.#buffer.length) break;
      // Terminate would end PGlite's one backend for everybody: it only ever closes this socket
      if (type === TERMINATE) {
        terminate = true;
        break;
      }
      if (type === SYNC) this.#unsynced = false;
      else if (UNSYNCED.has(type)) this.#unsynced = true;
      end += size;
    }
    const batch = this.#take(end);
    if (batch !== undefined) await this.#run(batch);
    if (terminate) this.socket.end();
  }

  /** Removes and returns the first `size` bytes of the buffer, once they have all arrived. */
  #take(size: number): Buffer | undefined {
    if (size <= 0 || this.#buffer.length < size) return undefined;
    const head = this.#buffer.subarray(0, size);
    this.#buffer = this.#buffer.subarray(size);
    return head;
  }

  async #run(messages: Buffer): Promise<void> {
    await this.backend.acquire(this);
    // a socket that closed while queued gives its turn back in #releaseSession
    if (this.#closed) return;
    this.#tail = Buffer.alloc(0);
    await this.backend.exec(messages, (bytes) => {
      // PGlite reuses its output buffer: copy before handing it to the socket
      const copy = Buffer.from(bytes);
      if (this.socket.writable) this.socket.write(copy);
      this.#tail = Buffer.concat([this.#tail, copy.subarray(-READY_IDLE.length)]).subarray(-READY_IDLE.length);
    });
    if (!this.#unsynced && this.#tail.equals(READY_IDLE)) this.backend.release(this);
  }

  /** A client that vanished mid-sequence or mid-transaction must not leave that state to the next one. */
  async #releaseSession(): Promise<void> {
    if (!this.backend.isOwner(this)) return;
    try {
      const discard = (): void => undefined;
      if (this.#unsynced) await this.backend.exec(SYNC_MESSAGE, discard);
      if (this.backend.inTransaction()) await this.backend.exec(ROLLBACK_MESSAGE, discard);
    } finally {
      this.backend.release(this);
    }
  }
}
