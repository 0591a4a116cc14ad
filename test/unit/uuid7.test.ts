import { expect } from 'chai';
import { UUID_PATTERN, uuidv7 } from '../../src/models/uuidv7.js';

describe('uuidv7', () => {
  it('makes RFC 9562 version 7 ids with the time in front', () => {
    // the clock of this process (the generator is monotonic per process: a time before an
    // id it already made would be moved forward, so no fixed past time can be asserted)
    const before = Date.now();
    const id = uuidv7();
    const after = Date.now();
    expect(id).to.match(UUID_PATTERN);
    expect(id[14]).to.equal('7');
    expect(id[19]).to.be.oneOf(['8', '9', 'a', 'b']);
    // a counter that wrapped within one millisecond borrows the next few
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).to.be.within(before, after + 5);
  });

  it('is unique and increasing within a process, across many blocks of entropy', () => {
    const ids = Array.from({ length: 20_000 }, () => uuidv7());
    expect(new Set(ids).size).to.equal(ids.length);
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!, `${ids[i - 1]} < ${ids[i]}`).to.equal(true);
    // the random tails differ: entropy is never handed out twice
    expect(new Set(ids.map((id) => id.slice(24))).size).to.equal(ids.length);
  });
});
