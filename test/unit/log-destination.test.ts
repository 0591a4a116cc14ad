import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import { createLogger, logDestination } from '../../src/telemetry/logger.js';
import { loadConfig } from '../../src/config/load-config.js';

/** A stream that says it is (or is not) a terminal, keeping what was written. */
function output(isTTY: boolean): { stream: PassThrough & { isTTY: boolean }; text: () => string } {
  const stream = Object.assign(new PassThrough(), { isTTY });
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

async function logOnce(format: 'auto' | 'json' | 'pretty', nodeEnv: string, isTTY: boolean): Promise<string> {
  const out = output(isTTY);
  const logger = createLogger('info', logDestination(format, nodeEnv, out.stream));
  logger.info({ tenant: 'acme', password: 'hunter2-secret', requestId: 'r-1' }, 'request served');
  logger.flush();
  await new Promise((r) => setTimeout(r, 20));
  return out.text();
}

describe('log lines: readable at a terminal in development, JSON everywhere else', () => {
  it('auto: readable lines in development on a terminal, redaction kept', async () => {
    const text = await logOnce('auto', 'development', true);
    expect(text).to.include('request served');
    expect(text.trimStart().startsWith('{'), text).to.equal(false);
    expect(text).to.include('acme');
    expect(text).to.not.include('hunter2-secret');
    expect(text).to.include('[redacted]');
  });

  it('auto: JSON lines when not a terminal, and in production or test even on one', async () => {
    for (const [nodeEnv, tty] of [['development', false], ['production', true], ['test', true]] as const) {
      const text = await logOnce('auto', nodeEnv, tty);
      const line = JSON.parse(text.trim().split('\n')[0]!) as Record<string, unknown>;
      expect(line, `${nodeEnv} tty=${tty}`).to.include({ msg: 'request served', tenant: 'acme', password: '[redacted]', service: 'shardgate' });
    }
  });

  it('json and pretty force their format; LOG_FORMAT sets it and a wrong one is refused naming log.format', async () => {
    expect((await logOnce('json', 'development', true)).trimStart().startsWith('{')).to.equal(true);
    expect((await logOnce('pretty', 'production', false)).trimStart().startsWith('{')).to.equal(false);
    expect(loadConfig({ NODE_ENV: 'development' }).log.format).to.equal('auto');
    expect(loadConfig({ NODE_ENV: 'development', LOG_FORMAT: 'json' }).log.format).to.equal('json');
    expect(() => loadConfig({ NODE_ENV: 'development', LOG_FORMAT: 'xml' })).to.throw(/log\.format/);
  });
});
