import { expect } from 'chai';
import { RateWindow } from '../../../../usages/ppsp/data/rate-window.js';

/** The progress rate over a sliding window, driven by a hand-moved clock (ms). */
describe('RateWindow', () => {
  it('reads the real rate while bytes move, whatever the polling period', () => {
    const rate = new RateWindow(5_000, 250);
    // 1 MiB every 100 ms for 10 s: 10 MiB/s.
    for (let t = 0; t <= 10_000; t += 100) rate.add(1024 * 1024, t);
    expect(rate.perSecond(10_000) / (1024 * 1024)).to.be.within(9.5, 10.5);
    // Sampled between two arrivals, it still reads the same.
    expect(rate.perSecond(10_050) / (1024 * 1024)).to.be.within(9.5, 10.5);
  });

  it('falls to 0 within one window once bytes stop, instead of keeping the last burst', () => {
    const rate = new RateWindow(5_000, 250);
    for (let t = 0; t <= 3_000; t += 50) rate.add(64 * 1024, t);
    expect(rate.perSecond(3_000)).to.be.greaterThan(1e6);
    expect(rate.perSecond(5_000), 'two seconds into the stall').to.be.lessThan(rate.perSecond(3_000));
    expect(rate.perSecond(8_300), 'a whole window after the last byte').to.equal(0);
    expect(rate.perSecond(60_000)).to.equal(0);
  });

  it('measures a young transfer over the time it has run, and reads 0 before any byte', () => {
    const rate = new RateWindow(5_000, 250);
    expect(rate.perSecond(1_000)).to.equal(0);
    rate.add(500_000, 1_000);
    rate.add(500_000, 1_900);
    // 1 MB in its first second: 1 MB/s, not 1 MB / 5 s.
    expect(rate.perSecond(2_000)).to.be.within(0.9e6, 1.1e6);
  });

  it('reuses its buckets as time moves on: old bytes never count again', () => {
    const rate = new RateWindow(1_000, 250);
    rate.add(1_000_000, 0);
    rate.add(10, 4_000); // the same slot, four windows later
    expect(rate.perSecond(4_000)).to.equal(10 * 1000 / 1000);
  });
});
