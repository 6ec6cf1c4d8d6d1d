import { expect } from 'chai';
import { LivePlayback } from '../../../../usages/ppsp/live/live-playback.js';
import { LiveWindow } from '../../../../usages/ppsp/live/live-window.js';

/** A channel of one chunk every 100 ms from t = 0 (source timestamps = index x 100). */
const MS = 100;
const T0 = 1_000_000;

function setup(opts = { startupMs: 1000, maxStallMs: 2000, maxLagMs: 15_000 }) {
  const window = new LiveWindow(64);
  const p = new LivePlayback(window, opts, T0);
  const arrive = (i: number, at: number) => window.add({ index: i, timestampMs: T0 + i * MS, flags: 0, bytes: Buffer.alloc(1), signature: Buffer.alloc(1), arrivedAt: at });
  return { window, p, arrive };
}

describe('LivePlayback', () => {
  it('starts the start-up distance behind the newest chunk, and a chunk due later than it came is on time', () => {
    const { p, arrive } = setup();
    expect(p.startPoint(50, 10_000)).to.equal(40); // 10 chunks/s x 1 s
    p.aim(40);
    for (let i = 40; i <= 50; i++) arrive(i, T0 + 5_000);
    p.tick(T0 + 5_000, MS, 10);
    for (let i = 51; i <= 60; i++) arrive(i, T0 + 5_000 + (i - 50) * MS - 50);
    p.tick(T0 + 6_000, MS, 10);
    const f = p.figures(T0 + 6_000);
    expect(f.startupDelayMs).to.equal(5_000);
    // 40 is played at T0 + 5,000, and each next one 100 ms later: 40..50 by T0 + 6,000.
    expect(f.chunksOnTime).to.equal(11);
    expect(f.continuity).to.equal(1);
    expect(f.stalls).to.equal(0);
    // Played 40 at T0 + 5,000, whose source time was T0 + 4,000: one second behind.
    expect(f.lagMs).to.equal(1_000);
  });

  it('a chunk missing at its deadline stalls playback until it comes, and counts as late', () => {
    const { p, arrive } = setup();
    p.aim(0);
    arrive(0, T0);
    arrive(2, T0);
    p.tick(T0, MS, 10);
    p.tick(T0 + 150, MS, 10); // 1 is due at T0 + 100 and missing
    expect(p.figures(T0 + 150).stalls).to.equal(1);
    expect(p.figures(T0 + 150).stallMs).to.equal(50);
    arrive(1, T0 + 400);
    p.tick(T0 + 400, MS, 10);
    const f = p.figures(T0 + 400);
    expect(f.chunksLate).to.equal(1);
    expect(f.stallMs).to.equal(300);
    expect(f.continuity).to.equal(0.5);
    // Playback moved on by the stall: 2 is due 100 ms after 1 was played, not at T0 + 200.
    p.tick(T0 + 450, MS, 10);
    expect(p.position).to.equal(2);
    p.tick(T0 + 500, MS, 10);
    expect(p.position).to.equal(3);
  });

  it('a chunk the source cut late (its input paused) is not a stall here, though playback waited for it', () => {
    const { p, window } = setup();
    p.aim(0);
    const add = (i: number, ts: number, at: number) => window.add({ index: i, timestampMs: ts, flags: 0, bytes: Buffer.alloc(1), signature: Buffer.alloc(1), arrivedAt: at });
    add(0, T0, T0 + 1000); // playing 1 s behind the source
    p.tick(T0 + 1000, MS, 10);
    p.tick(T0 + 1500, MS, 10); // 1 was expected at T0 + 1,100
    expect(p.figures(T0 + 1500).stalls).to.equal(1);
    add(1, T0 + 600, T0 + 1550); // cut at T0 + 600, so due at T0 + 1,600: here in time
    p.tick(T0 + 1600, MS, 10);
    const f = p.figures(T0 + 1600);
    expect(f.stalls).to.equal(0);
    expect(f.stallMs).to.equal(0);
    expect(f.chunksLate).to.equal(0);
    expect(f.chunksOnTime).to.equal(2);
  });

  it('gives up a chunk after maxStallMs when later ones are here, and counts it skipped', () => {
    const { p, arrive } = setup({ startupMs: 1000, maxStallMs: 500, maxLagMs: 15_000 });
    p.aim(0);
    arrive(0, T0);
    for (let i = 2; i < 10; i++) arrive(i, T0);
    p.tick(T0, MS, 10);
    p.tick(T0 + 200, MS, 10);
    p.tick(T0 + 599, MS, 10);
    expect(p.position).to.equal(1);
    p.tick(T0 + 600, MS, 10);
    const f = p.figures(T0 + 600);
    expect(f.chunksSkipped).to.equal(1);
    expect(p.position).to.equal(2);
    expect(f.continuity).to.be.closeTo(1 / 2, 1e-9);
  });

  it('a viewer left behind the window jumps to the start-up distance from the newest chunk', () => {
    const { p, arrive, window } = setup();
    p.aim(0);
    arrive(0, T0);
    p.tick(T0, MS, 10);
    for (let i = 100; i < 130; i++) arrive(i, T0 + 1000); // the window (64) moved past 1
    expect(window.oldest).to.equal(66);
    p.tick(T0 + 1000, MS, 10);
    const f = p.figures(T0 + 1000);
    expect(f.jumps).to.equal(1);
    expect(p.position).to.be.at.least(119);
  });

  it('begins only once the start point and prebufferMs of the channel after it are here', () => {
    const window = new LiveWindow(64);
    const p = new LivePlayback(window, { startupMs: 1000, maxStallMs: 2000, maxLagMs: 15_000, prebufferMs: 300 }, T0);
    const arrive = (i: number, at: number) => window.add({ index: i, timestampMs: T0 + i * MS, flags: 0, bytes: Buffer.alloc(1), signature: Buffer.alloc(1), arrivedAt: at });
    p.aim(10);
    for (const i of [10, 11, 12, 14, 15]) arrive(i, T0 + 100);
    p.tick(T0 + 100, MS, 10);
    expect(p.state).to.equal('joining'); // 13 is missing
    arrive(13, T0 + 250);
    p.tick(T0 + 250, MS, 10);
    expect(p.state).to.equal('playing');
    expect(p.figures(T0 + 250).startupDelayMs).to.equal(250);
  });

  it('ends after the last chunk', () => {
    const { p, window } = setup();
    p.aim(0);
    window.add({ index: 0, timestampMs: T0, flags: 1, bytes: Buffer.alloc(1), signature: Buffer.alloc(1), arrivedAt: T0 });
    p.tick(T0, MS, 10);
    expect(p.state).to.equal('ended');
  });
});
