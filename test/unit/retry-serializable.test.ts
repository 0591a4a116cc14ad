import { expect } from 'chai';
import { DatabaseError } from 'sequelize';
import { backoffDelayMs, retryableSqlState, retrySerializable, type RetryPolicy } from '../../src/data/retry-serializable.js';
import { GatewayError } from '../../src/errors/errors.js';
import { fromCents, toCents } from '../../src/data/money.js';
import { canonicalJson, requestHash } from '../../src/data/orders/idempotency-keys.js';

/** A Sequelize DatabaseError wrapping a driver error with this SQLSTATE, as pg + Sequelize raise it. */
function dbError(code: string): DatabaseError {
  const driver = Object.assign(new Error(`pg error ${code}`), { code, sql: 'SELECT 1' });
  return new DatabaseError(driver as Error & { sql: string });
}

const policy: RetryPolicy = { attempts: 4, baseDelayMs: 10, maxDelayMs: 50 };

describe('retrySerializable', () => {
  const sleeps: number[] = [];
  const hooks = { random: () => 0.5, sleep: async (ms: number) => void sleeps.push(ms) };
  beforeEach(() => (sleeps.length = 0));

  it('finds 40001 and 40P01 through Sequelize wrapping and causes, and nothing else', () => {
    expect(retryableSqlState(dbError('40001'))).to.equal('40001');
    expect(retryableSqlState(dbError('40P01'))).to.equal('40P01');
    expect(retryableSqlState(new Error('outer', { cause: dbError('40001') }))).to.equal('40001');
    expect(retryableSqlState(dbError('23505'))).to.equal(undefined);
    expect(retryableSqlState(new Error('plain'))).to.equal(undefined);
    expect(retryableSqlState(undefined)).to.equal(undefined);
    const loop: { cause?: unknown } = {};
    loop.cause = loop;
    expect(retryableSqlState(loop)).to.equal(undefined);
  });

  it('re-runs the work after serialization failures and deadlocks, then returns its result', async () => {
    const failures = [dbError('40001'), dbError('40P01')];
    const seen: number[] = [];
    const result = await retrySerializable(async (attempt) => {
      seen.push(attempt);
      const next = failures.shift();
      if (next) throw next;
      return 'done';
    }, policy, hooks);
    expect(result).to.equal('done');
    expect(seen).to.deep.equal([1, 2, 3]);
    expect(sleeps).to.deep.equal([5, 10]); // half of 10, half of 20
  });

  it('never retries other errors', async () => {
    let runs = 0;
    const unique = dbError('23505');
    const err = await retrySerializable(async () => {
      runs++;
      throw unique;
    }, policy, hooks).catch((e: unknown) => e);
    expect(err).to.equal(unique);
    expect(runs).to.equal(1);
    expect(sleeps).to.deep.equal([]);
  });

  it('gives up after the last attempt with a 409 CONFLICT that keeps the cause', async () => {
    let runs = 0;
    const err = await retrySerializable(async () => {
      runs++;
      throw dbError('40001');
    }, policy, hooks).catch((e: unknown) => e);
    expect(runs).to.equal(4);
    expect(err).to.be.instanceOf(GatewayError);
    expect((err as GatewayError).code).to.equal('CONFLICT');
    expect((err as GatewayError).status).to.equal(409);
    expect((err as GatewayError).retryAfterSeconds).to.equal(1);
    expect(retryableSqlState((err as GatewayError).cause)).to.equal('40001');
    expect(sleeps).to.have.length(3);
  });

  it('backs off exponentially with full jitter, capped', () => {
    expect([1, 2, 3, 4, 5].map((r) => backoffDelayMs(r, policy, () => 0.999999))).to.deep.equal([10, 20, 40, 50, 50]);
    expect([1, 2, 3].map((r) => backoffDelayMs(r, policy, () => 0))).to.deep.equal([0, 0, 0]);
    for (let i = 0; i < 200; i++) {
      const d = backoffDelayMs(3, policy);
      expect(d).to.be.within(0, 40);
    }
  });

  it('tells each retry to the observer', async () => {
    const seen: string[] = [];
    let first = true;
    await retrySerializable(async () => {
      if (first) {
        first = false;
        throw dbError('40P01');
      }
    }, policy, { ...hooks, onRetry: (info) => seen.push(`${info.attempt}:${info.sqlState}:${info.delayMs}`) });
    expect(seen).to.deep.equal(['1:40P01:5']);
  });
});

describe('order money and request hashing', () => {
  it('computes in exact cents', () => {
    expect(fromCents(toCents('19.99') * 3n)).to.equal('59.97');
    expect(fromCents(toCents('0.1') + toCents('0.2'))).to.equal('0.30');
    expect(fromCents(toCents('9999999999.99') * 10_000n)).to.equal('99999999999900.00');
    expect(toCents('5')).to.equal(500n);
    expect(() => toCents('-1')).to.throw();
    expect(() => toCents('1.234')).to.throw();
  });

  it('hashes requests canonically: key order does not matter, values do', () => {
    expect(canonicalJson({ b: 1, a: [{ y: 2, x: 'z' }] })).to.equal('{"a":[{"x":"z","y":2}],"b":1}');
    expect(requestHash({ customerId: 'c', items: [{ productId: 'p', quantity: 1 }] })).to.equal(
      requestHash({ items: [{ quantity: 1, productId: 'p' }], customerId: 'c' }),
    );
    expect(requestHash({ customerId: 'c', items: [{ productId: 'p', quantity: 1 }] })).to.not.equal(
      requestHash({ customerId: 'c', items: [{ productId: 'p', quantity: 2 }] }),
    );
  });
});
