import { expect } from 'chai';
import { formatLsn, parseLsn } from '../../src/cluster/lsn.js';
import { decodeToken, encodeToken } from '../../src/cluster/consistency-token.js';

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
});
