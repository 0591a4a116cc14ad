import { StringDecoder } from 'node:string_decoder';
import { GatewayError } from '../../errors/errors.js';

/**
 * The lines of an NDJSON body as it streams in (never the whole body in memory). A line
 * longer than maxLineBytes is a 413 naming it; a trailing line without "\n" counts.
 */
export async function* ndjsonLines(body: AsyncIterable<Buffer | string>, maxLineBytes: number): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let n = 0;
  for await (const chunk of body) {
    pending += typeof chunk === 'string' ? chunk : decoder.write(chunk);
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      n++;
      yield pending.slice(0, nl).replace(/\r$/, '');
      pending = pending.slice(nl + 1);
    }
    if (Buffer.byteLength(pending) > maxLineBytes) {
      throw new GatewayError('PAYLOAD_TOO_LARGE', `line ${n + 1} is longer than ${maxLineBytes} bytes`, { field: `line ${n + 1}` });
    }
  }
  pending += decoder.end();
  if (pending.trim() !== '') yield pending;
}
