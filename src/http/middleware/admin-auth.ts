import type { RequestHandler } from 'express';
import { secretsEqual } from '../../tenancy/api-keys.js';
import { parseBearer } from '../../tenancy/tenant-authenticator.js';
import { clientKey, type FailedAuthThrottle } from '../../limits/failed-auth-throttle.js';
import { GatewayError, UnauthenticatedError } from '../../errors/errors.js';

/** What admin auth needs of the failed-login throttle. */
export type AdminAuthThrottle = Pick<FailedAuthThrottle, 'check' | 'recordFailure'>;

/**
 * Admin endpoints require `Authorization: Bearer $GATEWAY_ADMIN_TOKEN`, compared in constant
 * time. Wrong tokens are counted per client address (`req.ip`: the peer, or the forwarded
 * address only when `http.trustProxy` says the proxy is trusted); an address past its budget
 * is refused with 429 before its token is even looked at, the right one included.
 */
export function adminAuth(token: string, throttle: AdminAuthThrottle): RequestHandler {
  return (req, _res, next) => {
    const client = clientKey(req.ip);
    const verdict = throttle.check(client);
    if (!verdict.allowed) {
      const retryAfterSeconds = Math.max(1, Math.ceil(verdict.retryAfterMs / 1000));
      next(new GatewayError('RATE_LIMITED', 'Too many wrong admin tokens from this address; retry later', { retryAfterSeconds }));
      return;
    }
    const given = parseBearer(req.header('authorization'));
    if (given === undefined || !secretsEqual(given, token)) {
      // a request with no bearer token at all guessed nothing: only wrong tokens count
      if (given !== undefined) throttle.recordFailure(client);
      next(new UnauthenticatedError('A valid admin bearer token is required'));
      return;
    }
    next();
  };
}
