import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import { runInRequest, type RequestContext } from '../../context/request-context.js';
import type { ServerSpans } from '../../telemetry/server-spans.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Opens the request: echoes (or mints) X-Request-Id, starts its server span (when the
 * request is sampled) and runs the rest of the stack in its context.
 */
export function requestScope(spans: ServerSpans): RequestHandler {
  return (req, res, next) => {
    const given = req.header('x-request-id');
    const requestId = given !== undefined && REQUEST_ID.test(given) ? given : randomUUID();
    req.headers['x-request-id'] = requestId;
    res.setHeader('X-Request-Id', requestId);
    const traced = spans.start(req);
    const request: RequestContext = { requestId, span: traced.span };
    if (traced.span !== undefined) {
      const span = traced.span;
      // 'close' follows 'finish', and also comes when the client leaves before the response is sent
      res.once('close', () => spans.end(span, res, request.route));
    }
    runInRequest(request, traced.context, next);
  };
}
