import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import { requestContext } from '../../context/request-context.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Opens the request's AsyncLocalStorage context and echoes (or mints) X-Request-Id. */
export function requestScope(): RequestHandler {
  return (req, res, next) => {
    const given = req.header('x-request-id');
    const requestId = given !== undefined && REQUEST_ID.test(given) ? given : randomUUID();
    req.headers['x-request-id'] = requestId;
    res.setHeader('X-Request-Id', requestId);
    requestContext.run({ requestId }, () => next());
  };
}
