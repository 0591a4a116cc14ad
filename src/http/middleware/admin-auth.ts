import type { RequestHandler } from 'express';
import { secretsEqual } from '../../tenancy/api-keys.js';
import { parseBearer } from '../../tenancy/tenant-authenticator.js';
import { UnauthenticatedError } from '../../errors/errors.js';

/** Admin endpoints require `Authorization: Bearer $GATEWAY_ADMIN_TOKEN`, compared in constant time. */
export function adminAuth(token: string): RequestHandler {
  return (req, _res, next) => {
    const given = parseBearer(req.header('authorization'));
    if (given === undefined || !secretsEqual(given, token)) {
      next(new UnauthenticatedError('A valid admin bearer token is required'));
      return;
    }
    next();
  };
}
