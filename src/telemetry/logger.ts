import pino, { type Logger } from 'pino';
import { traceIds } from './spans.js';

export type { Logger };

/** Paths pino blanks out wherever they appear, so secrets never reach a log line. */
const REDACT = [
  'password', '*.password', 'apiKey', '*.apiKey', 'adminToken', '*.adminToken', 'authorization',
  '*.authorization', 'req.headers.authorization', 'headers.authorization', 'taxId', '*.taxId',
  'passwordHash', '*.passwordHash',
  // Sequelize and pg errors carry the statement, its bound values and the offending values
  // (an email in a unique violation, a password hash in an insert): none of it is logged
  'err.sql', 'err.parameters', 'err.fields', 'err.errors', 'err.original.sql', 'err.original.parameters',
  'err.parent.sql', 'err.parent.parameters', 'err.detail', 'err.original.detail', 'err.parent.detail',
  'err.cause.sql', 'err.cause.parameters', 'err.cause.detail',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'shardgate' },
      redact: { paths: REDACT, censor: '[redacted]' },
      // trace and span ids on every line written inside a request
      mixin: () => traceIds(),
    },
    destination,
  );
}
