import { expect } from 'chai';
import { VirtualClock } from '../../../../overlay/clock.js';
import { BURST_SECONDS, MIN_BURST_BYTES, parseRate, RateLimit, TokenBucket } from '../../../../usages/ppsp/data/rate-limit.js';

/** Sends `frame`-byte frames for `seconds` as fast as the limit lets through; returns the bytes sent. */
function sendFor(limit: { charge(n: number): number }, clock: VirtualClock, seconds: number, frame = 16 * 1024): number {
  const end = clock.now() + seconds * 1000;
  let sent = 0;
  while (clock.now() < end) {
    const wait = limit.charge(frame);
    sent += frame;
    if (wait > 0) clock.advance(wait);
  }
  return sent;
}

describe('rate limits', () => {
  it('a bucket holds its rate over a long run, within a burst', () => {
    const clock = new VirtualClock(0);
    const bucket = new TokenBucket(250_000, clock);
    const sent = sendFor(bucket, clock, 20);
    const burst = Math.max(MIN_BURST_BYTES, 250_000 * BURST_SECONDS);
    expect(sent).to.be.within(250_000 * 20, 250_000 * 20 + burst + 16 * 1024);
  });

  it('an idle bucket saves up at most its burst', () => {
    const clock = new VirtualClock(0);
    const bucket = new TokenBucket(1_000_000, clock);
    clock.advance(60_000);
    let free = 0;
    while (bucket.charge(1000) === 0) free += 1000;
    expect(free).to.be.at.most(1_000_000 * BURST_SECONDS);
    expect(free).to.be.at.least(1_000_000 * BURST_SECONDS - 1000);
  });

  it('rate 0 is unlimited, and a new rate applies at once', () => {
    const clock = new VirtualClock(0);
    const bucket = new TokenBucket(0, clock);
    for (let i = 0; i < 1000; i++) expect(bucket.charge(1 << 20)).to.equal(0);
    bucket.rate = 100_000;
    expect(sendFor(bucket, clock, 10)).to.be.within(1_000_000, 1_000_000 + 2 * MIN_BURST_BYTES);
    bucket.rate = 0;
    expect(bucket.delay()).to.equal(0);
  });

  it('two limits in a row: the tighter one holds; one node bucket shared by two swarms splits its rate', () => {
    const clock = new VirtualClock(0);
    const node = new TokenBucket(200_000, clock);
    const a = new RateLimit([new TokenBucket(1_000_000, clock), node]);
    const b = new RateLimit([new TokenBucket(0, clock), node]);
    // Alternate sends of a and b, each waiting for its own limit: together they get the node's rate.
    let sent = 0;
    const end = 30_000;
    while (clock.now() < end) {
      const wait = Math.max(a.charge(8192), b.charge(8192));
      sent += 16_384;
      if (wait > 0) clock.advance(wait);
    }
    expect(sent / 30).to.be.within(195_000, 210_000);
  });

  it('parseRate: bytes with SI prefixes, bits with "bit", 0; refuses the rest', () => {
    const ok: [string, number][] = [
      ['0', 0],
      ['500k', 500_000],
      ['500K', 500_000],
      ['2M', 2_000_000],
      ['2MB/s', 2_000_000],
      ['1.5G', 1_500_000_000],
      ['20Mbit', 2_500_000],
      ['800kbit/s', 100_000],
      ['123', 123],
    ];
    for (const [text, value] of ok) expect(parseRate(text), text).to.equal(value);
    for (const bad of ['', 'fast', '-5', '5 kb', '2Mb', '1e6', '20T', '99G']) expect(parseRate(bad), bad).to.equal(undefined);
  });
});
