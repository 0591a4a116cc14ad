import { expect } from 'chai';
import { ShardUrlPolicy } from '../../src/rebalance/topology/shard-url-policy.js';
import { ValidationError } from '../../src/errors/errors.js';

describe('ShardUrlPolicy (what POST /admin/shards may connect to)', () => {
  const policy = new ShardUrlPolicy(['127.0.0.1', 'shardgate-shard-*-rw', '*.db.internal', '::1']);
  const refused = (url: string) => {
    try {
      policy.check(url, 'replicas[1]');
    } catch (err) {
      expect(err).to.be.instanceOf(ValidationError);
      expect((err as ValidationError).message).to.match(/^replicas\[1\]: /);
      return (err as ValidationError).message;
    }
    throw new Error(`${url} was allowed`);
  };

  it('allows hosts matching a pattern, * within a name, case-insensitive', () => {
    for (const url of [
      'postgres://app:pw@127.0.0.1:5432/shardgate',
      'postgres://app@shardgate-shard-7-rw:5432/shardgate?sslmode=verify-full',
      'postgresql://app@Shard-9.DB.internal/shardgate?application_name=x',
      'postgres://app@[::1]:5433/shardgate',
    ]) {
      expect(() => policy.check(url, 'primary'), url).not.to.throw();
    }
  });

  it('refuses other hosts, a missing host, and look-alikes', () => {
    expect(refused('postgres://app@10.0.0.7:5432/x')).to.include('security.shardHosts');
    expect(refused('postgres://app@169.254.169.254/x')).to.include('not among the allowed');
    expect(refused('postgres://app@shardgate-shard-1-rw.evil.example/x')).to.include('not among the allowed');
    expect(refused('postgres://app@127.0.0.1.nip.io/x')).to.include('not among the allowed');
    expect(refused('postgres:///shardgate')).to.include('must name a host');
  });

  it('refuses parameters that read files on the gateway or point elsewhere', () => {
    for (const p of ['sslkey=/etc/shadow', 'sslcert=/x', 'sslrootcert=/x', 'sslcrl=/x', 'passfile=/x', 'host=/tmp', 'options=-c%20role%3Dpostgres', 'replication=database']) {
      expect(refused(`postgres://app@127.0.0.1/x?${p}`), p).to.include(`parameter ${p.split('=')[0]} is not accepted`);
    }
    expect(refused('postgres://app@127.0.0.1/x?sslmode=maybe')).to.include('sslmode must be one of');
  });
});
