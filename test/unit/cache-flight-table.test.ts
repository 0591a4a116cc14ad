import { expect } from 'chai';
import { FlightTable, type Flight } from '../../src/cache/flight-table.js';

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('FlightTable', () => {
  it('shares one run among concurrent callers of a key', async () => {
    const table = new FlightTable<number>();
    const gate = deferred<number>();
    let runs = 0;
    const work = async () => {
      runs++;
      return gate.promise;
    };
    const all = Array.from({ length: 10 }, () => table.run('k', work));
    expect(table.size).to.equal(1);
    gate.resolve(7);
    expect(await Promise.all(all)).to.deep.equal(Array(10).fill(7));
    expect(runs).to.equal(1);
    expect(table.size).to.equal(0);
  });

  it('marks an invalidated run stale and lets later callers start a fresh one', async () => {
    const table = new FlightTable<string>();
    const old = deferred<string>();
    let oldFlight: Flight | undefined;
    const first = table.run('k', async (flight) => {
      oldFlight = flight;
      return old.promise;
    });
    table.invalidate('k');
    expect(oldFlight?.stale).to.equal(true);
    const fresh = deferred<string>();
    const second = table.run('k', async () => fresh.promise);
    const third = table.run('k', async () => 'never');
    old.resolve('old');
    expect(await first).to.equal('old');
    // the old run finishing must not unregister the new one
    expect(table.size).to.equal(1);
    fresh.resolve('new');
    expect(await second).to.equal('new');
    expect(await third).to.equal('new');
  });

  it('invalidates by predicate and all at once', () => {
    const table = new FlightTable<void>();
    const flights: Record<string, Flight> = {};
    const never = new Promise<void>(() => undefined);
    for (const key of ['a:1', 'a:2', 'b:1']) void table.run(key, async (f) => { flights[key] = f; return never; });
    table.invalidateWhere((key) => key.startsWith('a:'));
    expect([flights['a:1']?.stale, flights['a:2']?.stale, flights['b:1']?.stale]).to.deep.equal([true, true, false]);
    table.invalidateAll();
    expect(flights['b:1']?.stale).to.equal(true);
    expect(table.size).to.equal(0);
  });
});
