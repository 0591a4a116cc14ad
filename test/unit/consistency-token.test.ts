import { expect } from 'chai';
import { formatLsn, parseLsn } from '../../src/cluster/lsn.js';
import { ConsistencyTokens, decodeToken, encodeToken } from '../../src/cluster/consistency-token.js';
import { randomBytes } from 'node:crypto';

describe('LSN and consistency tokens', () => {
  it('parses and orders WAL positions', () => {
    expect(parseLsn('0/16B3748')).to.equal(0x16b3748n);
    expect(parseLsn('1/0')! > parseLsn('0/FFFFFFFF')!).to.equal(true);
    expect(formatLsn(parseLsn('16/B374D848')!)).to.equal('16/B374D848');
  });

  it('rejects malformed positions', () => {
    for (const bad of ['', '0', '0/', '/1', 'x/1', '0/1/2', '123456789/0']) expect(parseLsn(bad), bad).to.equal(undefined);
  });

  it('round-trips a token', () => {
    const token = { shardId: 'shard-2', lsn: parseLsn('3/A0')! };
    expect(decodeToken(encodeToken(token))).to.deep.equal(token);
  });

  it('rejects tokens that are not ours', () => {
    for (const bad of ['', '@0/1', 'shard-1', 'shard-1@', 'shard-1@nope', "' OR 1=1 --"]) expect(decodeToken(bad), bad).to.equal(undefined);
  });

  describe('sealed, as clients see them', () => {
    const k1 = randomBytes(32).toString('base64');
    const k2 = randomBytes(32).toString('base64');
    const tokens = new ConsistencyTokens({ k1 }, 'k1');
    const token = { shardId: 'shard-2', lsn: parseLsn('3/A0')! };

    it('opens what it sealed for the same tenant, and shows no shard or WAL position', () => {
      const sealed = tokens.seal(token, 'acme');
      expect(tokens.open(sealed, 'acme')).to.deep.equal(token);
      expect(sealed).not.to.include('shard-2');
      expect(sealed).not.to.include('3/A0');
      expect(tokens.seal(token, 'acme')).not.to.equal(sealed);
    });

    it('refuses another tenant’s token, a forged or altered one, and plain ones', () => {
      const sealed = tokens.seal(token, 'acme');
      expect(tokens.open(sealed, 'globex')).to.equal(undefined);
      const body = Buffer.from(sealed.split('.')[2]!, 'base64url');
      body[14] = body[14]! ^ 1;
      expect(tokens.open(`t1.k1.${body.toString('base64url')}`, 'acme')).to.equal(undefined);
      for (const bad of [encodeToken(token), '', 't1', 't1.k1', 't1.k9.AAAA', `${sealed}.x`, 't1.k1.!!!!', `t1.k1.${'A'.repeat(2000)}`]) {
        expect(tokens.open(bad, 'acme'), bad).to.equal(undefined);
      }
    });

    it('opens tokens of a key still in the keyring after a rotation, not of one rotated out', () => {
      const old = tokens.seal(token, 'acme');
      expect(new ConsistencyTokens({ k1, k2 }, 'k2').open(old, 'acme')).to.deep.equal(token);
      expect(new ConsistencyTokens({ k2 }, 'k2').open(old, 'acme')).to.equal(undefined);
    });
  });
});
