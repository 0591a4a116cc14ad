import { expect } from 'chai';
import { ADMIN_TOKEN, TestGateway } from '../support/test-cluster.js';
import { httpFrom, type RawResponse } from '../support/raw-http.js';

const WINDOW_MS = 2_000;
const MAX_FAILURES = 3;

function expectThrottled(res: RawResponse): void {
  expect(res.status, res.text).to.equal(429);
  expect(res.headers['content-type']).to.match(/^application\/problem\+json/);
  expect(res.body).to.include({ code: 'RATE_LIMITED', status: 429 });
  const retryAfter = Number(res.headers['retry-after']);
  expect(retryAfter).to.be.within(1, WINDOW_MS / 1000);
}

describe('admin API: wrong admin tokens are throttled per client address', function () {
  this.timeout(60_000);
  let gw: TestGateway;
  const shards = (from: string, token: string, headers: Record<string, string> = {}) =>
    httpFrom(from, 'GET', `${gw.gateway.adminUrl}/admin/shards`, { authorization: `Bearer ${token}`, ...headers });

  before(async () => {
    gw = await TestGateway.start({ limits: { adminAuth: { maxFailures: MAX_FAILURES, windowMs: WINDOW_MS, maxClients: 1000 } } });
  });
  after(async () => gw?.stop());

  it(`after ${MAX_FAILURES} wrong tokens an address gets 429 with Retry-After, the right token too, until the window ends; other addresses are unaffected`, async () => {
    const attacker = '127.0.0.2';
    const started = performance.now();
    for (let i = 0; i < MAX_FAILURES; i++) {
      const wrong = await shards(attacker, `${ADMIN_TOKEN}-wrong-${i}`);
      expect(wrong.status, wrong.text).to.equal(401);
    }
    expectThrottled(await shards(attacker, 'yet-another-guess'));
    // the right token from the throttled address: refused all the same (a guesser learns nothing)
    expectThrottled(await shards(attacker, ADMIN_TOKEN));
    // another address is not affected
    const other = await shards('127.0.0.3', ADMIN_TOKEN);
    expect(other.status, other.text).to.equal(200);
    // a right token elsewhere resets nothing here
    expectThrottled(await shards(attacker, ADMIN_TOKEN));

    const waitMs = started + WINDOW_MS + 100 - performance.now();
    if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs));
    const after = await shards(attacker, ADMIN_TOKEN);
    expect(after.status, after.text).to.equal(200);
  });

  it('does not let X-Forwarded-For pick the counted address when no proxy is trusted', async () => {
    const client = '127.0.0.4';
    for (let i = 0; i < MAX_FAILURES; i++) {
      const wrong = await shards(client, `guess-${i}`, { 'x-forwarded-for': `198.51.100.${i}` });
      expect(wrong.status).to.equal(401);
    }
    expectThrottled(await shards(client, ADMIN_TOKEN, { 'x-forwarded-for': '198.51.100.200' }));
  });

  it('counts wrong tokens only: requests with no token guess nothing and are not throttled', async () => {
    const client = '127.0.0.5';
    for (let i = 0; i < MAX_FAILURES * 3; i++) {
      const none = await httpFrom(client, 'GET', `${gw.gateway.adminUrl}/admin/shards`);
      expect(none.status).to.equal(401);
      expect(none.body).to.include({ code: 'UNAUTHENTICATED' });
    }
    const right = await shards(client, ADMIN_TOKEN);
    expect(right.status, right.text).to.equal(200);
  });
});
