import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { JobStore } from '../../src/catalog/job-store.js';
import { MOVE_STAGES, type MovePatch, type MoveRecord, type MoveStage } from '../../src/catalog/job-rows.js';
import { MoveContext, type MoverTimings } from '../../src/rebalance/move/move-context.js';
import { canTransition, checkTransition, isPastCutover, nextStage, StageTransitionError } from '../../src/rebalance/move/move-stage.js';
import type { ShardDirectory } from '../../src/rebalance/move/shard-directory.js';
import { createLogger } from '../../src/telemetry/logger.js';

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

describe('MoveContext.update (where a move stage is persisted)', () => {
  const record = (stage: MoveStage): MoveRecord => ({
    id: randomUUID(), jobId: randomUUID(), seq: 0, tenantId: 'tenant-1', source: 'shard-1', target: 'shard-2', stage, rowsCopied: 0, attempts: 1, detail: {}, error: null,
  });
  const context = (stage: MoveStage, writes: MovePatch[]) =>
    new MoveContext(
      record(stage),
      { updateMove: async (_id: string, patch: MovePatch) => void writes.push(patch) } as unknown as JobStore,
      {} as ShardDirectory,
      {} as MoverTimings,
      new AbortController().signal,
      createLogger('silent'),
    );

  it('refuses an illegal transition before it reaches the catalog, and persists a legal one', async () => {
    expect(() => checkTransition('cutover', 'failed')).to.throw(StageTransitionError, 'cutover to failed');
    const writes: MovePatch[] = [];
    const ctx = context('copying', writes);
    let refused: unknown;
    try {
      await ctx.update({ stage: 'fenced', detail: { copyMs: 1 } });
    } catch (err) {
      refused = err;
    }
    expect(refused).to.be.instanceOf(StageTransitionError);
    expect(writes, 'nothing written').to.deep.equal([]);
    expect(ctx.move.stage).to.equal('copying');

    await ctx.update({ stage: 'catching_up' });
    await ctx.update({ detail: { catchUpMs: 5 } });
    expect(writes.map((w) => w.stage)).to.deep.equal(['catching_up', undefined]);
    expect(ctx.move.stage).to.equal('catching_up');
  });

  it('refuses to leave a terminal stage', async () => {
    const writes: MovePatch[] = [];
    let refused: unknown;
    try {
      await context('done', writes).update({ stage: 'pending' });
    } catch (err) {
      refused = err;
    }
    expect(refused).to.be.instanceOf(StageTransitionError);
    expect(writes).to.deep.equal([]);
  });
});
