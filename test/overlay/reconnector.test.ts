import { expect } from 'chai';
import { VirtualClock } from '../../overlay/clock.js';
import { silentLogger } from '../../overlay/log.js';
import { Reconnector } from '../../overlay/reconnector.js';
import { Backoff } from '../../overlay/util/backoff.js';

/** Lets the promise callbacks of an attempt run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('util/backoff', () => {
  it('doubles from the first delay up to the cap, each delay jittered within [d/2, d]', () => {
    const low = new Backoff({ initialMs: 1000, maxMs: 30_000, random: () => 0 });
    const high = new Backoff({ initialMs: 1000, maxMs: 30_000, random: () => 0.999999 });
    const bases = [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000];
    expect(bases.map(() => low.next())).to.deep.equal(bases.map((b) => b / 2));
    expect(bases.map(() => high.next())).to.deep.equal(bases);
  });

  it('starts over at the first delay after reset()', () => {
    const b = new Backoff({ initialMs: 1000, maxMs: 30_000, random: () => 0.999999 });
    for (let i = 0; i < 10; i++) b.next();
    b.reset();
    expect(b.next()).to.equal(1000);
  });

  it('refuses settings that are not bounded', () => {
    expect(() => new Backoff({ initialMs: 0, maxMs: 10 })).to.throw(RangeError);
    expect(() => new Backoff({ initialMs: 100, maxMs: 10 })).to.throw(RangeError);
  });
});

describe('reconnector', () => {
  /** A reconnector on a virtual clock whose attempts fail until `succeedFrom`, recording their times. */
  function harness(succeedFrom = Infinity) {
    const clock = new VirtualClock(0);
    const at: number[] = [];
    const r = new Reconnector({
      clock,
      log: silentLogger,
      initialMs: 1000,
      maxMs: 8000,
      random: () => 0.999999,
      attempt: async () => {
        at.push(clock.now());
        if (at.length < succeedFrom) throw new Error('nobody answers');
      },
    });
    /** Advances the clock in 250 ms steps, letting each attempt settle. */
    const run = async (ms: number) => {
      for (let i = 0; i < ms; i += 250) {
        clock.advance(250);
        await settle();
      }
    };
    return { clock, at, r, run };
  }

  it('retries with doubling delays up to the cap while attempts fail', async () => {
    const { at, r, run } = harness();
    r.start();
    await run(40_000);
    // 1 s, then +2, +4, +8, +8, ... (cap 8 s)
    expect(at.slice(0, 7)).to.deep.equal([1000, 3000, 7000, 15_000, 23_000, 31_000, 39_000]);
    expect(r.retrying).to.equal(true);
    r.stop();
  });

  it('stops after the first success, and starts over from the first delay next time', async () => {
    const { at, r, run, clock } = harness(3);
    r.start();
    await run(20_000);
    expect(at).to.deep.equal([1000, 3000, 7000]);
    expect(r.retrying).to.equal(false);
    expect(clock.pendingCount).to.equal(0);
    r.start();
    await run(1000);
    expect(at.at(-1)).to.equal(21_000);
  });

  it('soon() tries at once instead of waiting out the delay', async () => {
    const { at, r, run } = harness();
    r.start();
    await run(8000); // attempts at 1, 3 and 7 s; the next would be due at 15 s
    r.soon();
    await run(250);
    expect(at).to.deep.equal([1000, 3000, 7000, 8000]);
    r.stop();
  });

  it('stop() leaves no timer and no further attempt', async () => {
    const { at, r, run, clock } = harness();
    r.start();
    await run(3000);
    r.stop();
    expect(clock.pendingCount).to.equal(0);
    await run(60_000);
    expect(at).to.deep.equal([1000, 3000]);
  });
});
