import { expect } from 'chai';
import { Writable } from 'node:stream';
import { UniqueConstraintError } from 'sequelize';
import { createLogger } from '../../src/telemetry/logger.js';

function capture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, stream };
}

describe('logger: no statement values in a log line', () => {
  it('drops the SQL, bound parameters and offending values of a Sequelize error, keeping its name and message', async () => {
    const { lines, stream } = capture();
    const logger = createLogger('info', stream);
    const parent = Object.assign(new Error('duplicate key value violates unique constraint "users_email"'), {
      sql: 'INSERT INTO users (email, password_hash) VALUES ($1, $2)',
      parameters: ['alice@example.com', 'scrypt$secret-hash'],
      detail: 'Key (tenant_id, email)=(t1, alice@example.com) already exists.',
    });
    const err = new UniqueConstraintError({ parent: parent as never, fields: { email: 'alice@example.com' }, message: 'Validation error' });
    Object.assign(err, { sql: parent.sql, parameters: parent.parameters });
    logger.error({ err }, 'request failed');
    await new Promise((resolve) => setImmediate(resolve));
    const text = lines.join('');
    expect(text).to.include('SequelizeUniqueConstraintError');
    expect(text).to.include('request failed');
    expect(text).not.to.include('alice@example.com');
    expect(text).not.to.include('secret-hash');
    expect(text).not.to.include('INSERT INTO users');
  });
});
