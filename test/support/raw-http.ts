import { request } from 'node:http';
import net from 'node:net';

function jsonOrEmpty(text: string): Record<string, unknown> {
  try {
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Record<string, unknown>;
  readonly text: string;
}

/**
 * One request on its own connection from a chosen local address (`127.0.0.2` and the rest
 * of 127/8 reach a listener on 127.0.0.1): how tests play several clients from one host.
 */
export function httpFrom(localAddress: string, method: string, url: string, headers: Record<string, string> = {}, body?: string | Buffer): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, localAddress, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: jsonOrEmpty(text), text });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

export interface RawExchange {
  /** everything the server sent before it closed */
  readonly received: string;
  /** ms from connecting to the server closing */
  readonly closedAfterMs: number;
}

/**
 * Opens a TCP connection, writes `text` (possibly an unfinished request) and waits for the
 * server to close the connection, collecting what it sent: for answers Node gives before
 * Express sees a request (timeouts, refused connections).
 */
export function rawExchange(port: number, text: string, timeoutMs = 30_000): Promise<RawExchange> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = net.connect(port, '127.0.0.1', () => {
      if (text !== '') socket.write(text);
    });
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the connection open for ${timeoutMs} ms; received: ${received}`));
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
    // a reset after the answer still ends the exchange
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ received, closedAfterMs: performance.now() - started });
    });
  });
}

/** The status line and the JSON body of a raw HTTP/1.1 answer. */
export function parseRawAnswer(raw: string): { status: number; headers: string; body: Record<string, unknown> } {
  const end = raw.indexOf('\r\n\r\n');
  const head = end < 0 ? raw : raw.slice(0, end);
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
  return { status, headers: head, body: jsonOrEmpty(end < 0 ? '' : raw.slice(end + 4)) };
}
