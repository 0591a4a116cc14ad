import type { IncomingMessage } from 'node:http';
import { PayloadTooLargeError } from '../../errors/errors.js';

/**
 * A request body as it streams in, refused past `maxBytes`: a declared Content-Length over
 * the limit at once (before any work starts), and every byte counted as it arrives, since a
 * chunked body declares nothing and a declared length is only a claim. The request is not
 * destroyed when the consumer stops early (the socket must carry the error response): the
 * caller drains what is left with `drainRequest`.
 */
export function boundedBody(req: IncomingMessage, maxBytes: number, limitName: string): AsyncGenerator<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw new PayloadTooLargeError(maxBytes, limitName);
  return counted(req, maxBytes, limitName);
}

async function* counted(req: IncomingMessage, maxBytes: number, limitName: string): AsyncGenerator<Buffer> {
  let bytes = 0;
  for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > maxBytes) throw new PayloadTooLargeError(maxBytes, limitName);
    yield chunk;
  }
}

/**
 * After an early answer, the unread rest of the body is read and dropped (as body-parser
 * does for its 413), so the answer reaches the client: a socket closed with unread input is
 * reset, and a reset can cost the client the answer. The listener's request timeout bounds
 * how long a client may keep sending.
 */
export function drainRequest(req: IncomingMessage): void {
  if (!req.complete) req.resume();
}
