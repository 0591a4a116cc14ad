import { expect } from 'chai';
import { Readable } from 'node:stream';
import { fencedError } from '../../src/http/middleware/fenced-retry.js';
import { ndjsonLines } from '../../src/http/input/ndjson-lines.js';
import { GatewayError, TenantFencedError } from '../../src/errors/errors.js';
import { translateDbError } from '../../src/data/translate-db-error.js';
import { DatabaseError } from 'sequelize';

describe('fenced writes', () => {
  it('maps SQLSTATE SG001 from the fence trigger to TENANT_FENCED (503, Retry-After 1)', () => {
    const pgError = Object.assign(new Error('tenant a is fenced'), { code: 'SG001', sql: 'INSERT …' });
    const err = translateDbError(new DatabaseError(pgError as never), 'shard-1') as GatewayError;
    expect(err).to.be.instanceOf(TenantFencedError);
    expect([err.code, err.status, err.retryAfterSeconds]).to.deep.equal(['TENANT_FENCED', 503, 1]);
  });

  it('recognises a fence error typed or raw, and nothing else', () => {
    expect(fencedError(new TenantFencedError('shard-1'))?.code).to.equal('TENANT_FENCED');
    expect(fencedError({ parent: { code: 'SG001' } })?.code).to.equal('TENANT_FENCED');
    expect(fencedError(new GatewayError('SHARD_UNAVAILABLE', 'down'))).to.equal(undefined);
    expect(fencedError(new Error('boom'))).to.equal(undefined);
  });
});

describe('ndjsonLines', () => {
  const lines = async (chunks: string[], max = 100) => {
    const out: string[] = [];
    for await (const l of ndjsonLines(Readable.from(chunks.map((c) => Buffer.from(c))), max)) out.push(l);
    return out;
  };

  it('splits on newlines across chunks, CRLF included, last line without newline kept', async () => {
    expect(await lines(['{"a":1}\r\n{"b"', ':2}\n', '{"c":3}'])).to.deep.equal(['{"a":1}', '{"b":2}', '{"c":3}']);
  });

  it('refuses a line over the limit with a 413 naming it', async () => {
    try {
      await lines(['ok\n', 'x'.repeat(200)], 100);
      expect.fail('no error');
    } catch (err) {
      expect([(err as GatewayError).code, (err as GatewayError).field]).to.deep.equal(['PAYLOAD_TOO_LARGE', 'line 2']);
    }
  });
});
