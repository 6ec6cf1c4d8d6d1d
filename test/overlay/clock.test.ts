import { expect } from 'chai';
import { VirtualClock } from '../../overlay/clock.js';
import { Prng } from '../helpers/prng.js';

describe('VirtualClock', () => {
  it('fires timers in due order, ties in arming order, periodic ones again, cancelled ones never', () => {
    const clock = new VirtualClock(0);
    const fired: string[] = [];
    clock.after(30, () => fired.push('a30'));
    clock.after(10, () => fired.push('b10'));
    clock.after(10, () => fired.push('c10'));
    const tick = clock.every(25, () => fired.push(`tick${clock.now()}`));
    clock.after(20, () => fired.push('cancelled')).cancel();
    expect(clock.pendingCount).to.equal(4);
    clock.advance(60);
    expect(fired).to.deep.equal(['b10', 'c10', 'tick25', 'a30', 'tick50']);
    expect(clock.now()).to.equal(60);
    tick.cancel();
    expect(clock.pendingCount).to.equal(0);
  });

  it('matches a sorted reference on 5,000 random timers, some cancelled, some arming more', () => {
    const rng = new Prng(7);
    const clock = new VirtualClock(0);
    const fired: number[] = [];
    const expected: { at: number; seq: number }[] = [];
    let seq = 0;
    const arm = (delay: number) => {
      const id = seq++;
      const at = clock.now() + delay;
      const t = clock.after(delay, () => {
        fired.push(id);
        // A timer that arms another, due later, as maintenance code does.
        if (id % 7 === 0 && seq < 6000) arm(1 + rng.int(50));
      });
      if (rng.int(10) === 0) t.cancel();
      else expected.push({ at, seq: id });
    };
    for (let i = 0; i < 5000; i++) arm(rng.int(1000));
    clock.advance(10_000);
    expected.sort((a, b) => a.at - b.at || a.seq - b.seq);
    expect(fired).to.deep.equal(expected.map((e) => e.seq));
    expect(clock.pendingCount).to.equal(0);
  });

  it('compacts away cancelled timers (most of 5,000 here) and still fires the rest in order', () => {
    const rng = new Prng(11);
    const clock = new VirtualClock(0);
    const fired: number[] = [];
    const kept: { at: number; id: number }[] = [];
    for (let id = 0; id < 5000; id++) {
      const at = 1 + rng.int(3_600_000);
      const t = clock.after(at, () => fired.push(id));
      if (rng.int(5) === 0) kept.push({ at, id });
      else t.cancel();
    }
    expect(clock.pendingCount).to.equal(kept.length);
    clock.advance(3_600_000);
    kept.sort((a, b) => a.at - b.at || a.id - b.id);
    expect(fired).to.deep.equal(kept.map((k) => k.id));
  });

  it('run() lets promise continuations run between timers, so awaiting code keeps its time', async () => {
    const clock = new VirtualClock(0);
    const sleep = (ms: number) => new Promise<void>((r) => clock.after(ms, r));
    const seen: number[] = [];
    const task = (async () => {
      for (let i = 0; i < 5; i++) {
        await sleep(10);
        seen.push(clock.now());
      }
    })();
    clock.advance(100);
    expect(seen, 'advance() fires the first timer only: the next is armed after it returns').to.deep.equal([]);
    const again = new VirtualClock(0);
    const seenRun: number[] = [];
    const sleepRun = (ms: number) => new Promise<void>((r) => again.after(ms, r));
    const taskRun = (async () => {
      for (let i = 0; i < 5; i++) {
        await sleepRun(10);
        seenRun.push(again.now());
      }
    })();
    await again.run(100);
    await taskRun;
    expect(seenRun).to.deep.equal([10, 20, 30, 40, 50]);
    expect(again.now()).to.equal(100);
    void task;
  });

  it('with turnEvery > 1, run() still lets a deep chain of continuations finish before the next timer', async () => {
    for (const turnEvery of [1, 64]) {
      const clock = new VirtualClock(0, { turnEvery });
      const seen: string[] = [];
      const deep = async (depth: number): Promise<void> => {
        if (depth > 0) await deep(depth - 1);
        else await Promise.resolve();
      };
      for (let i = 0; i < 100; i++) {
        clock.after(10 * i, () => void deep(50).then(() => seen.push(`chain ${i} at ${clock.now()}`)));
        clock.after(10 * i + 1, () => seen.push(`timer ${i} at ${clock.now()}`));
      }
      await clock.run(1000);
      expect(seen, `turnEvery ${turnEvery}`).to.deep.equal(Array.from({ length: 100 }, (_, i) => [`chain ${i} at ${10 * i}`, `timer ${i} at ${10 * i + 1}`]).flat());
    }
    expect(() => new VirtualClock(0, { turnEvery: 0 })).to.throw(RangeError, /turnEvery/);
  });
});
