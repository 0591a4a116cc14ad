import { expect } from 'chai';
import { FailedAuthThrottle, clientKey } from '../../src/limits/failed-auth-throttle.js';

describe('FailedAuthThrottle', () => {
  let now = 0;
  const throttle = (maxClients = 100) => new FailedAuthThrottle({ maxFailures: 3, windowMs: 60_000, maxClients, now: () => now });
  beforeEach(() => (now = 1_000));

  it('refuses a client after maxFailures within the window, until the window ends', () => {
    const t = throttle();
    for (let i = 0; i < 3; i++) {
      expect(t.check('10.0.0.1').allowed).to.equal(true);
      t.recordFailure('10.0.0.1');
      now += 1_000;
    }
    const refused = t.check('10.0.0.1');
    expect(refused).to.deep.equal({ allowed: false, retryAfterMs: 57_000 }); // the window opened at the first failure
    expect(t.check('10.0.0.2').allowed).to.equal(true);
    now = 1_000 + 60_000;
    expect(t.check('10.0.0.1').allowed).to.equal(true);
    expect(t.size).to.equal(0);
  });

  it('counts each client on its own', () => {
    const t = throttle();
    t.recordFailure('a');
    t.recordFailure('a');
    t.recordFailure('b');
    t.recordFailure('b');
    expect(t.check('a').allowed).to.equal(true);
    expect(t.check('b').allowed).to.equal(true);
    t.recordFailure('a');
    expect(t.check('a').allowed).to.equal(false);
    expect(t.check('b').allowed).to.equal(true);
  });

  it('stays within maxClients, dropping ended windows first and then the oldest', () => {
    const t = throttle(100);
    for (let i = 0; i < 50; i++) t.recordFailure(`old-${i}`);
    now += 61_000;
    for (let i = 0; i < 1_000; i++) t.recordFailure(`new-${i}`);
    expect(t.size).to.equal(100);
    // the most recent failures are the ones remembered
    for (let i = 0; i < 2; i++) t.recordFailure('new-999');
    expect(t.check('new-999').allowed).to.equal(false);
  });
});

describe('clientKey', () => {
  it('keeps IPv4 addresses whole, IPv4-mapped ones as IPv4', () => {
    expect(clientKey('127.0.0.2')).to.equal('127.0.0.2');
    expect(clientKey('::ffff:127.0.0.2')).to.equal('127.0.0.2');
  });

  it('groups IPv6 addresses by their /64', () => {
    expect(clientKey('2001:db8:1:2:aaaa::1')).to.equal('2001:db8:1:2::/64');
    expect(clientKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).to.equal('2001:db8:1:2::/64');
    expect(clientKey('2001:db8:1:3::1')).to.equal('2001:db8:1:3::/64');
    expect(clientKey('fe80::1%eth0')).to.equal('fe80::/64');
  });

  it('counts what is not an address as it is', () => {
    expect(clientKey(undefined)).to.equal('unknown');
    expect(clientKey('not-an-ip')).to.equal('not-an-ip');
  });
});
