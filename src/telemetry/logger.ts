import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
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

export type LogFormat = 'auto' | 'json' | 'pretty';

/**
 * Where log lines go: to a person at a terminal in development, readable lines (pino-pretty,
 * coloured when `out` is a terminal; redaction has happened before); to anything else — a
 * collector, a file, a pipe — the JSON lines as pino writes them (undefined: stdout).
 */
export function logDestination(format: LogFormat, nodeEnv: string, out: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout): pino.DestinationStream | undefined {
  const terminal = out.isTTY === true;
  const human = format === 'pretty' || (format === 'auto' && nodeEnv === 'development' && terminal);
  if (!human) return out === process.stdout ? undefined : (out as pino.DestinationStream);
  return pretty({ destination: out, colorize: terminal, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service', sync: true });
}
