import pino, { type Logger } from 'pino';
import { traceIds } from './spans.js';

export type { Logger };

/** Paths pino blanks out wherever they appear, so secrets never reach a log line. */
const REDACT = [
  'password', '*.password', 'apiKey', '*.apiKey', 'adminToken', '*.adminToken', 'authorization',
  '*.authorization', 'req.headers.authorization', 'headers.authorization', 'taxId', '*.taxId',
  'passwordHash', '*.passwordHash',
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
