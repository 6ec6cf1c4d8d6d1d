import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import { VirtualClock } from '../../overlay/clock.js';
import { FaultyLink } from '../../overlay/link/faulty-link.js';
import type { Link } from '../../overlay/link/link.js';
import { Prng } from '../helpers/prng.js';

/** The far end of a link: `deliver` is a message coming in. */
class FakeLink extends EventEmitter {
  remoteNodeId = new Uint8Array(16);
  remoteNodeIdHex = '00'.repeat(16);
  remoteUser = 'u';
  remoteAddress = 'x';
  transport = 'memory';
  open = true;
  queuedMessages = 0;
  sent: Uint8Array[] = [];
  send(b: Uint8Array) {
    this.sent.push(b);
    return true;
  }
  close() {
    this.open = false;
    this.emit('close');
  }
  deliver(n: number) {
    this.emit('message', Uint8Array.of(n & 0xff, (n >> 8) & 0xff));
  }
}

function setup(faults: { delayMs: number; jitterMs: number; loss: number; maxPending?: number }, seed = 1) {
  const clock = new VirtualClock(0);
  const rng = new Prng(seed);
  const inner = new FakeLink();
  const link = new FaultyLink(inner as unknown as Link, { ...faults, clock, random: () => rng.next() / 0x1_0000_0000 });
  const got: { n: number; at: number }[] = [];
  link.on('message', (b) => got.push({ n: b[0]! | (b[1]! << 8), at: clock.now() }));
  return { clock, inner, link, got };
}

describe('FaultyLink', () => {
  it('delays each message by delay ± jitter and never delivers one before the one before it', () => {
    const { clock, inner, got } = setup({ delayMs: 100, jitterMs: 50, loss: 0 });
    for (let i = 0; i < 1000; i++) {
      inner.deliver(i);
      clock.advance(3);
    }
    clock.advance(200);
    expect(got.map((g) => g.n)).to.deep.equal(Array.from({ length: 1000 }, (_, i) => i));
    for (const { n, at } of got) {
      const sentAt = n * 3;
      expect(at - sentAt).to.be.within(50, 150 + 3 * 50); // never early; late only behind a later-drawn predecessor
    }
    const lateness = got.map(({ n, at }) => at - n * 3);
    expect(Math.min(...lateness)).to.be.lessThan(60);
    expect(lateness.filter((l) => l <= 150).length).to.be.greaterThan(900);
  });

  it('drops the share of messages it is told to, within a statistical bound', () => {
    const { clock, inner, link, got } = setup({ delayMs: 0, jitterMs: 0, loss: 0.02, maxPending: 10_000 }, 42);
    for (let i = 0; i < 10_000; i++) inner.deliver(i);
    clock.advance(1);
    // 2 % of 10,000: 200, standard deviation 14; five deviations either way.
    expect(link.counts.dropped).to.be.within(130, 270);
    expect(got.length + link.counts.dropped).to.equal(10_000);
  });

  it('holds at most maxPending messages, and a close cancels everything pending', () => {
    const { clock, inner, link, got } = setup({ delayMs: 100, jitterMs: 0, loss: 0, maxPending: 10 });
    for (let i = 0; i < 15; i++) inner.deliver(i);
    expect(link.pending).to.equal(10);
    expect(link.counts.overflowed).to.equal(5);
    link.close();
    expect(inner.open).to.equal(false);
    clock.advance(1000);
    expect(got).to.have.length(0);
    expect(clock.pendingCount).to.equal(0);
  });

  it('passes sends and the identity of the inner link through', () => {
    const { inner, link } = setup({ delayMs: 10, jitterMs: 0, loss: 0.5 });
    expect(link.send(Uint8Array.of(1))).to.equal(true);
    expect(inner.sent).to.have.length(1);
    expect(link.remoteNodeIdHex).to.equal(inner.remoteNodeIdHex);
  });
});
