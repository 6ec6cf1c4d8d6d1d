import { expect } from 'chai';
import { Ledbat, LEDBAT_TARGET_US } from '../../../../usages/ppsp/ppspp/ledbat.js';

const MSS = 1024;

/**
 * Runs `rounds` round trips of 100 ms of an ACK-clocked sender that always has data: each round
 * acknowledges, one MSS at a time with one-way delay `delayUs(round)`, what the previous round sent,
 * and each ACK lets the sender fill its window again. Returns the window after each round.
 */
function drive(ledbat: Ledbat, rounds: number, delayUs: (round: number) => number, startMs = 0): number[] {
  const windows: number[] = [];
  // Datagrams a previous drive left in flight are acknowledged in the first round.
  let inFlight = Math.round(ledbat.flight / MSS) + fill(ledbat);
  for (let r = 0; r < rounds; r++) {
    const now = startMs + r * 100;
    let next = 0;
    for (; inFlight > 0; inFlight--) {
      ledbat.acked(MSS, delayUs(r), now);
      next += fill(ledbat);
    }
    inFlight = next;
    windows.push(ledbat.cwnd);
  }
  return windows;
}

/** Sends whole MSS datagrams while the window has room; returns how many. */
function fill(ledbat: Ledbat): number {
  let sent = 0;
  for (; ledbat.room() >= MSS; sent++) ledbat.sent(MSS);
  return sent;
}

describe('LEDBAT (RFC 6817)', () => {
  it('starts at two MSS and grows by about one MSS per round trip while there is no queueing delay', () => {
    const ledbat = new Ledbat({ mss: MSS, maxCwnd: 1000 * MSS });
    expect(ledbat.cwnd).to.equal(2 * MSS);
    const windows = drive(ledbat, 50, () => 20_000);
    // Each full window acknowledged adds GAIN * 1 * MSS (off_target = 1), capped at flight + 1 MSS.
    expect(windows[49]! / MSS).to.be.within(45, 52);
    for (let i = 1; i < windows.length; i++) expect(windows[i]!).to.be.greaterThan(windows[i - 1]!);
  });

  it('shrinks to the minimum window while the queueing delay stays above the 100 ms target', () => {
    const ledbat = new Ledbat({ mss: MSS, maxCwnd: 1000 * MSS });
    drive(ledbat, 40, () => 20_000);
    const grown = ledbat.cwnd;
    // The same base delay, then 250 ms of queue on top of it.
    const windows = drive(ledbat, 200, () => 20_000 + 250_000, 4000);
    expect(grown).to.be.greaterThan(20 * MSS);
    expect(windows.at(-1)).to.equal(2 * MSS);
    expect(ledbat.queueingDelayUs()).to.equal(250_000);
  });

  it('holds its window at the target delay: neither grows nor shrinks', () => {
    const ledbat = new Ledbat({ mss: MSS, maxCwnd: 1000 * MSS });
    drive(ledbat, 30, () => 5_000);
    // The filter's first samples still hold the lower delay: compare from the second round on.
    const windows = drive(ledbat, 30, () => 5_000 + LEDBAT_TARGET_US, 3000);
    expect(windows[1]).to.be.greaterThan(20 * MSS);
    expect(windows.at(-1)).to.be.closeTo(windows[1]!, 1e-6);
  });

  it('does not care about the offset between the two clocks: only delay differences count', () => {
    const near = new Ledbat({ mss: MSS, maxCwnd: 1000 * MSS });
    const far = new Ledbat({ mss: MSS, maxCwnd: 1000 * MSS });
    const delays = (r: number) => 10_000 + (r % 7) * 30_000;
    expect(drive(far, 80, (r) => delays(r) + 3_600_000_000)).to.deep.equal(drive(near, 80, delays));
  });

  it('forgets a base delay older than ten minutes', () => {
    const ledbat = new Ledbat({ mss: MSS, maxCwnd: 1000 * MSS });
    drive(ledbat, 1, () => 1_000);
    // The path's delay rises for good by 300 ms: queueing at first, the new base after 10 minutes.
    for (let minute = 1; minute <= 11; minute++) drive(ledbat, 1, () => 301_000, minute * 60_000);
    expect(ledbat.queueingDelayUs()).to.equal(0);
  });

  it('halves its window on a loss, once per round trip, never below two MSS', () => {
    const ledbat = new Ledbat({ mss: MSS, maxCwnd: 1000 * MSS });
    drive(ledbat, 30, () => 20_000);
    const before = ledbat.cwnd;
    ledbat.lost(MSS, 10_000, 100);
    expect(ledbat.cwnd).to.equal(before / 2);
    ledbat.lost(MSS, 10_050, 100);
    expect(ledbat.cwnd, 'a second loss in the same round trip').to.equal(before / 2);
    for (let t = 10_200; t < 12_000; t += 200) ledbat.lost(MSS, t, 100);
    expect(ledbat.cwnd).to.equal(2 * MSS);
  });

  it('never exceeds its bound nor what is in flight by more than one MSS', () => {
    const ledbat = new Ledbat({ mss: MSS, maxCwnd: 8 * MSS });
    drive(ledbat, 100, () => 0);
    expect(ledbat.cwnd).to.equal(8 * MSS);
    const idle = new Ledbat({ mss: MSS, maxCwnd: 1000 * MSS });
    // A sender with one MSS in flight at a time: its window may not run away.
    for (let i = 0; i < 500; i++) {
      idle.sent(MSS);
      idle.acked(MSS, 0, i);
    }
    expect(idle.cwnd).to.equal(2 * MSS);
  });

  it('keeps its window through a burst of ACKs that comes before the sender refills it', () => {
    const ledbat = new Ledbat({ mss: MSS, maxCwnd: 1000 * MSS });
    drive(ledbat, 20, () => 10_000);
    const before = ledbat.cwnd;
    // Everything in flight is acknowledged at once, then the sender sends again.
    const inFlight = Math.round(ledbat.flight / MSS);
    for (let i = 0; i < inFlight; i++) ledbat.acked(MSS, 10_000, 5000);
    expect(ledbat.cwnd).to.be.at.least(before);
    expect(ledbat.room()).to.be.at.least(Math.floor(before));
  });

  it('restarts from one MSS after a timeout', () => {
    const ledbat = new Ledbat({ mss: MSS, maxCwnd: 1000 * MSS });
    drive(ledbat, 30, () => 0);
    ledbat.timedOut();
    expect(ledbat.cwnd).to.equal(MSS);
    expect(ledbat.flight).to.equal(0);
    expect(ledbat.room()).to.equal(MSS);
  });
});
