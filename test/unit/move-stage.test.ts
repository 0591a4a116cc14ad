import { expect } from 'chai';
import { canTransition, isPastCutover, MOVE_STAGES, nextStage } from '../../src/rebalance/move/move-stage.js';

describe('MoveStage', () => {
  it('walks the happy path one stage at a time', () => {
    const path = ['pending'];
    for (let s = nextStage('pending'); s !== undefined; s = nextStage(s)) path.push(s);
    expect(path).to.deep.equal(['pending', 'copying', 'catching_up', 'fenced', 'verified', 'cutover', 'cleanup', 'done']);
    expect(canTransition('copying', 'fenced'), 'no skipping').to.equal(false);
  });

  it('fails or starts over only before cutover; after it a move only goes forward', () => {
    for (const s of ['copying', 'catching_up', 'fenced', 'verified'] as const) {
      expect(canTransition(s, 'failed'), s).to.equal(true);
      expect(canTransition(s, 'pending'), s).to.equal(true);
    }
    for (const s of ['cutover', 'cleanup'] as const) {
      expect(isPastCutover(s)).to.equal(true);
      expect(canTransition(s, 'failed'), s).to.equal(false);
      expect(canTransition(s, 'pending'), s).to.equal(false);
    }
  });

  it('never leaves a terminal stage', () => {
    for (const to of MOVE_STAGES) {
      expect(canTransition('done', to)).to.equal(false);
      expect(canTransition('failed', to)).to.equal(false);
    }
  });
});
