import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ErrorCodes, type ErrorCode } from '../errors/errors.js';
import { PROBLEM_TYPE_BASE } from './problem.js';

/** What Node's HTTP parser refused, as the problem a client can act on. */
function problemFor(err: NodeJS.ErrnoException): { code: ErrorCode; detail: string; field?: string } | undefined {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { code: 'HEADERS_TOO_LARGE', detail: 'The request headers exceed the size limit' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'HPE_HEADER_TIMEOUT':
      // both the listener's headers timeout and its request timeout end here (Node 20 names both the first way)
      return { code: 'REQUEST_TIMEOUT', detail: 'The request was not received in time; the connection is closed' };
    case 'ECONNRESET':
      return undefined; // nobody is listening any more
    default:
      return { code: 'MALFORMED_REQUEST', detail: 'The request is not a well-formed HTTP/1.1 message', field: 'request' };
  }
}

/**
 * Requests Node's HTTP parser rejects (oversized headers, broken framing) and requests the
 * client did not finish sending in time never reach Express (or are cut off under it), and
 * Node answers them with an empty 431, 400 or 408. This answers them as problem+json like
 * every other error, when nothing has been written on the socket yet.
 */
export function answerClientErrors(server: Server): void {
  // sockets whose current request was answered before its body was read (a 401, a 413): a
  // timeout on that body must not add a second answer to the same request
  const answeredEarly = new WeakSet<object>();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    answeredEarly.delete(req.socket);
    res.once('finish', () => {
      if (!req.complete) answeredEarly.add(req.socket);
    });
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex & { _httpMessage?: { headersSent?: boolean } | null }) => {
    // as Node itself does: never write into a response already under way on this (keep-alive) socket
    const writable = socket.writable && socket._httpMessage?.headersSent !== true && !answeredEarly.has(socket);
    const problem = problemFor(err);
    if (problem === undefined || !writable) {
      socket.destroy();
      return;
    }
    const { status, title } = ErrorCodes[problem.code];
    const body = JSON.stringify({
      type: PROBLEM_TYPE_BASE + problem.code.toLowerCase().replaceAll('_', '-'),
      title,
      status,
      detail: problem.detail,
      code: problem.code,
      ...(problem.field === undefined ? {} : { field: problem.field }),
    });
    // destroyed once written, as Node does: a request cut off under a handler then ends there too ('aborted')
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? title}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      () => socket.destroy(),
    );
  });
}
