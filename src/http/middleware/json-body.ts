import express, { type RequestHandler } from 'express';
import { GatewayError } from '../../errors/errors.js';

/**
 * JSON bodies only: a body with another content type is a 415 naming Content-Type,
 * rather than silently parsed as empty and reported as missing fields.
 */
export function jsonBody(limit: string): RequestHandler[] {
  const parse = express.json({ limit, strict: true, type: ['application/json', 'application/*+json'] });
  const requireJson: RequestHandler = (req, _res, next) => {
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (hasBody && !req.is(['application/json', 'application/*+json'])) {
      next(new GatewayError('UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json', { field: 'Content-Type' }));
      return;
    }
    next();
  };
  return [requireJson, parse];
}
