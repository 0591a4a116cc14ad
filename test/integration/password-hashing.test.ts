import { expect } from 'chai';
import { TestGateway, type HttpResult } from '../support/test-cluster.js';

describe('password hashing: scrypt runs in bounded slots, a full queue is a 503', function () {
  this.timeout(60_000);
  let gw: TestGateway;

  before(async () => {
    // one slot, one waiting, and a cost that keeps a hash busy for a good part of a second
    gw = await TestGateway.start({ security: { scryptCost: 65_536, scryptConcurrency: 1, scryptMaxQueued: 1 } });
  });
  after(async () => gw?.stop());

  it('refuses sign-ups past the queue with 503 HASHING_BUSY and Retry-After, creates the others, and recovers', async () => {
    const tenant = await gw.createTenant('hashing');
    const results: HttpResult[] = await Promise.all(Array.from({ length: 8 }, () => tenant.createUser()));
    const created = results.filter((r) => r.status === 201);
    const busy = results.filter((r) => r.status === 503);
    expect(created.length + busy.length, results.map((r) => r.text).join('\n')).to.equal(8);
    expect(created.length).to.be.at.least(2); // the running one and the queued one
    expect(busy.length).to.be.at.least(1);
    for (const res of busy) {
      expect(res.headers.get('content-type')).to.match(/^application\/problem\+json/);
      expect(res.body).to.include({ code: 'HASHING_BUSY', status: 503 });
      expect(res.headers.get('retry-after')).to.equal('1');
    }
    // a refused sign-up left nothing behind
    const list = await tenant.request('GET', '/v1/users?pageSize=100');
    expect((list.body.items as unknown[]).length).to.equal(created.length);
    // the queue drained: the next sign-up goes through
    const later = await tenant.createUser();
    expect(later.status, later.text).to.equal(201);
  });
});
