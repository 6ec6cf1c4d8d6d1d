import { expect } from 'chai';
import { LiveScheduler } from '../../../../usages/ppsp/live/live-scheduler.js';
import type { LiveSession } from '../../../../usages/ppsp/live/live-session.js';

/** A session as the scheduler sees it: what the peer holds, what was asked of it and when. */
class FakeSession {
  ready = true;
  chokedByRemote = false;
  readonly remote = new Set<number>();
  readonly requested = new Map<number, number>();
  readonly cancelled: number[] = [];
  constructor(
    readonly remoteNodeId: string,
    holds: number[],
    private readonly clock: { now: number },
  ) {
    for (const c of holds) this.remote.add(c);
  }
  request(chunks: number[]) {
    for (const c of chunks) this.requested.set(c, this.clock.now);
  }
  cancel(c: number) {
    if (this.requested.delete(c)) this.cancelled.push(c);
  }
}

const OPTS = { perPeerInFlight: 4, urgentMs: 1000, lateFloorMs: 300, requestTimeoutMs: 3000 };
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

function setup(deadlineOf: (c: number, now: number) => number | undefined = (c) => 10_000 + c * 100) {
  const clock = { now: 0 };
  const held = new Set<number>();
  const view = { has: (c: number) => held.has(c), deadline: (c: number) => deadlineOf(c, clock.now), sourceId: 'src' };
  const s = new LiveScheduler(OPTS);
  const run = (sessions: FakeSession[], from = 0, newest = 100, prefetch = 50) => s.schedule(clock.now, from, newest, prefetch, sessions as unknown as LiveSession[], view);
  return { clock, held, s, run };
}

describe('LiveScheduler', () => {
  it('asks in deadline order, spreads over holders up to their in-flight bound, and stops at the prefetch bound', () => {
    const { clock, run } = setup();
    const a = new FakeSession('a', range(0, 100), clock);
    const b = new FakeSession('b', range(0, 100), clock);
    run([a, b], 0, 100, 5);
    expect([...a.requested.keys(), ...b.requested.keys()].sort((x, y) => x - y)).to.deep.equal(range(0, 5));
    run([a, b], 0, 100, 50);
    expect(a.requested.size).to.equal(4);
    expect(b.requested.size).to.equal(4);
    expect([...a.requested.keys(), ...b.requested.keys()].sort((x, y) => x - y)).to.deep.equal(range(0, 7));
  });

  it('while the deadline is far, prefers viewers to the source; near it, asks whoever has the least in flight', () => {
    const { clock, run } = setup((c) => (c < 3 ? 500 : 10_000));
    const source = new FakeSession('src', range(0, 10), clock);
    const viewer = new FakeSession('v', range(0, 10), clock);
    run([source, viewer], 0, 10);
    // 0..2 are urgent: spread by load; 3.. are not: the viewer only, up to its bound of 4.
    expect([...source.requested.keys()].every((c) => c < 3)).to.equal(true);
    expect(source.requested.size).to.be.greaterThan(0);
    expect([...source.requested.keys(), ...viewer.requested.keys()].sort((x, y) => x - y)).to.deep.equal(range(0, 2).concat(range(3, 3 + 4 - (3 - source.requested.size) - 1)));
    expect(viewer.requested.size).to.equal(4);
    // Only the source holds it: asked of the source even while far.
    const lone = new FakeSession('src', [20], clock);
    run([lone], 20, 20);
    expect([...lone.requested.keys()]).to.deep.equal([20]);
  });

  it('asks a second holder only once the first request is late and the deadline near; then a third; never a fourth', () => {
    let deadline = 5_000;
    const { clock, run, s } = setup(() => deadline);
    const a = new FakeSession('a', [0], clock);
    const b = new FakeSession('b', [0], clock);
    const c = new FakeSession('c', [0], clock);
    const d = new FakeSession('d', [0], clock);
    const all = [a, b, c, d];
    run(all, 0, 0);
    const asked = () => all.filter((x) => x.requested.has(0)).length;
    expect(asked()).to.equal(1);
    clock.now = 2_000; // late, but the deadline is 3 s away: no duplicate
    run(all, 0, 0);
    expect(asked()).to.equal(1);
    deadline = 2_500; // now near
    run(all, 0, 0);
    expect(asked()).to.equal(2);
    clock.now = 2_100; // the second request is not late yet
    run(all, 0, 0);
    expect(asked()).to.equal(2);
    clock.now = 2_700; // late: twice the usual answer time (unknown: 300 ms) has passed
    run(all, 0, 0);
    expect(asked()).to.equal(3);
    clock.now = 2_950;
    run(all, 0, 0);
    expect(asked()).to.equal(3);
    expect(s.counts.duplicates).to.equal(2);
  });

  it('asks the only holder again when its request is late near the deadline, and withdraws a request after the timeout', () => {
    let deadline = 10_000;
    const { clock, run, s } = setup(() => deadline);
    const only = new FakeSession('a', [0, 1], clock);
    run([only], 0, 1);
    expect(only.requested.get(0)).to.equal(0);
    deadline = 900;
    clock.now = 500; // not late yet (600 ms)
    run([only], 0, 1);
    expect(only.requested.get(0)).to.equal(0);
    clock.now = 700;
    run([only], 0, 1);
    expect(only.requested.get(0)).to.equal(700);
    deadline = 100_000;
    clock.now = 3_701;
    run([only], 0, 1);
    expect(only.cancelled).to.include(0);
    expect(s.counts.timeouts).to.be.greaterThan(0);
    // Withdrawn, then asked again at once (the peer is the only holder).
    expect(only.requested.get(0)).to.equal(3_701);
  });

  it('asks nobody who chokes us or is not ready, and nothing we hold', () => {
    const { clock, held, run } = setup();
    const choking = new FakeSession('a', range(0, 5), clock);
    choking.chokedByRemote = true;
    const starting = new FakeSession('b', range(0, 5), clock);
    starting.ready = false;
    const ok = new FakeSession('c', range(0, 5), clock);
    held.add(0);
    held.add(2);
    run([choking, starting, ok], 0, 5);
    expect(choking.requested.size + starting.requested.size).to.equal(0);
    expect([...ok.requested.keys()]).to.deep.equal([1, 3, 4, 5]);
  });
});
