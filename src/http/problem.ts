import type { ErrorRequestHandler, Request, Response } from 'express';
import type { Logger } from 'pino';
import { GatewayError, type ErrorCode } from '../errors/errors.js';

export const PROBLEM_TYPE_BASE = 'https://shardgate.dev/problems/';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  field?: string;
  instance?: string;
  requestId?: string;
}

function problemOf(err: GatewayError, req: Request): Problem {
  const problem: Problem = {
    type: PROBLEM_TYPE_BASE + err.code.toLowerCase().replaceAll('_', '-'),
    title: err.title,
    status: err.status,
    detail: err.message,
    code: err.code,
    instance: req.originalUrl,
  };
  if (err.field !== undefined) problem.field = err.field;
  const requestId = req.header('x-request-id');
  if (requestId) problem.requestId = requestId;
  return problem;
}

export function sendProblem(res: Response, req: Request, err: GatewayError): void {
  if (err.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(Math.max(0, Math.ceil(err.retryAfterSeconds))));
  res.status(err.status).type('application/problem+json').send(JSON.stringify(problemOf(err, req)));
}

/** body-parser's errors carry a `type`; turn each into the problem a client can act on. */
function fromBodyParser(err: { type?: string; message?: string }): GatewayError | undefined {
  switch (err.type) {
    case 'entity.parse.failed':
      return new GatewayError('MALFORMED_JSON', `The body is not valid JSON: ${err.message ?? 'parse error'}`, { field: 'body' });
    case 'entity.too.large':
      return new GatewayError('PAYLOAD_TOO_LARGE', 'The request body exceeds the size limit', { field: 'body' });
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new GatewayError('UNSUPPORTED_MEDIA_TYPE', err.message ?? 'Unsupported body encoding', { field: 'Content-Type' });
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return new GatewayError('VALIDATION_FAILED', err.message ?? 'The request body could not be read', { field: 'body' });
    default:
      return undefined;
  }
}

/**
 * The one place errors become HTTP: typed errors keep their status and code; anything
 * else is logged with its stack and answered as a bare 500 (never the stack itself).
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    let problem: GatewayError | undefined = err instanceof GatewayError ? err : undefined;
    problem ??= fromBodyParser(err as { type?: string });
    // the router could not percent-decode a path parameter (`/v1/users/%E0%A4`): the client's URL, not a fault here
    if (problem === undefined && err instanceof URIError && (err as { status?: unknown }).status === 400) problem = new GatewayError('VALIDATION_FAILED', 'The URL path is not valid percent-encoded UTF-8', { field: 'path' });
    if (problem === undefined) {
      logger.error({ err, method: req.method, url: req.originalUrl }, 'unhandled error');
      problem = new GatewayError('INTERNAL', 'An unexpected error occurred');
    } else if (problem.status >= 500) {
      logger.warn({ code: problem.code, cause: (problem.cause as Error | undefined)?.message, url: req.originalUrl }, problem.message);
    }
    sendProblem(res, req, problem);
  };
}

export function notFoundHandler(): (req: Request, res: Response) => void {
  return (req, res) => sendProblem(res, req, new GatewayError('NOT_FOUND', `No route for ${req.method} ${req.path}`));
}
