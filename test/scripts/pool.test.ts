import { expect } from 'chai';
import { pooled } from '../../scripts/simulation/pool.js';

/** A task that ends when the test says so. */
function gate(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('simulation pool: bounded work, the next item as soon as one ends', () => {
  it('never runs more than the limit, starts the next item when any one ends, and keeps results in item order', async () => {
    const gates = Array.from({ length: 6 }, gate);
    const started: number[] = [];
    let running = 0;
    let most = 0;
    const all = pooled(gates, 2, async (g, i) => {
      started.push(i);
      most = Math.max(most, ++running);
      await g.promise;
      running--;
      return i * 10;
    });
    await settle();
    expect(started).to.deep.equal([0, 1]);
    gates[1]!.open();
    await settle();
    // Item 0 is still running: a round-based batch would wait for it; the pool goes on.
    expect(started).to.deep.equal([0, 1, 2]);
    for (const g of gates) g.open();
    expect(await all).to.deep.equal([0, 10, 20, 30, 40, 50]);
    expect(most).to.equal(2);
  });

  it('resolves at once with nothing to do, and rejects with the first failure', async () => {
    expect(await pooled([], 4, async () => 1)).to.deep.equal([]);
    let caught: unknown;
    await pooled([1, 2], 2, async (n) => {
      if (n === 2) throw new Error('item 2 failed');
    }).catch((e) => (caught = e));
    expect((caught as Error).message).to.equal('item 2 failed');
  });
});
