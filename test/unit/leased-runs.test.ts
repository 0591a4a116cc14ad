import { expect } from 'chai';
import { pino } from 'pino';
import { LeasedRuns } from '../../src/leases/leased-runs.js';

/** A logger that keeps what it was told, to see which runs ended how. */
function recordingLogger() {
  const lines: Array<{ level: number; msg: string }> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as { level: number; msg: string }) });
  return { logger, lines };
}

describe('LeasedRuns', () => {
  it('runs a record once however often it is asked while it runs, and not at all when another owner holds it', async () => {
    const { logger } = recordingLogger();
    const held = new Set(['theirs']);
    const runs = new LeasedRuns({ what: 'job', logKey: 'job', owner: 'me', leaseMs: 60_000, claim: async (id) => !held.has(id), logger });
    let started = 0;
    let finish!: () => void;
    const gate = new Promise<void>((resolve) => (finish = resolve));
    const work = async () => {
      started += 1;
      await gate;
    };
    const a = runs.run('mine', work);
    const b = runs.run('mine', work);
    expect(runs.running('mine')).to.equal(a);
    expect(b).to.equal(a);
    await runs.run('theirs', work);
    finish();
    await runs.settled();
    expect(started).to.equal(1);
    expect(runs.running('mine')).to.equal(undefined);
  });

  it('ends a run whose lease another gateway took without an error, and logs a crash of any other kind', async () => {
    const { logger, lines } = recordingLogger();
    let ours = true;
    const runs = new LeasedRuns({ what: 'job', logKey: 'job', owner: 'me', leaseMs: 750, claim: async () => ours, logger });
    await runs.run('taken', async (lease) => {
      ours = false; // the next renewal finds another owner
      for (const deadline = Date.now() + 5000; !lease.lost && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
      lease.check();
    });
    ours = true;
    await runs.run('broken', async () => {
      throw new Error('disk full');
    });
    expect(lines.map((l) => l.msg)).to.deep.equal(['job taken over by another gateway', 'job run crashed']);
    expect(lines.map((l) => l.level)).to.deep.equal([40, 50]);
  });
});
