import { expect } from 'chai';
import { systemClock, VirtualClock } from '../../../overlay/clock.js';
import { idToHex, randomId } from '../../../overlay/id.js';
import { memoryLinkPair, type MemoryLink } from '../../../overlay/link/memory-link.js';
import { seededRandom } from '../../../overlay/random.js';

const alice = { nodeId: randomId(), user: 'alice@test.reload' };
const bob = { nodeId: randomId(), user: 'bob@test.reload' };

/** Records what a link receives and how it closes. */
function record(link: MemoryLink): { messages: number[][]; closes: (Error | undefined)[] } {
  const seen = { messages: [] as number[][], closes: [] as (Error | undefined)[] };
  link.on('message', (b) => seen.messages.push([...b]));
  link.on('close', (e) => seen.closes.push(e));
  return seen;
}

describe('MemoryLink', () => {
  it('reports the other end’s identity', () => {
    const [a, b] = memoryLinkPair(alice, bob, { clock: new VirtualClock() });
    expect(idToHex(a.remoteNodeId)).to.equal(idToHex(bob.nodeId));
    expect(a.remoteNodeIdHex).to.equal(idToHex(bob.nodeId));
    expect(a.remoteUser).to.equal(bob.user);
    expect(b.remoteUser).to.equal(alice.user);
    expect(a.transport).to.equal('memory');
    expect(a.remoteAddress).to.equal(`memory:${idToHex(bob.nodeId)}`);
    expect(a.open).to.equal(true);
  });

  it('delivers asynchronously and in order, even at 0 ms on the real clock', async () => {
    const [a, b] = memoryLinkPair(alice, bob, { clock: systemClock });
    const got = record(b);
    for (let i = 0; i < 100; i++) expect(a.send(Uint8Array.of(i))).to.equal(true);
    expect(got.messages).to.have.length(0);
    expect(a.queuedMessages).to.equal(100);
    await new Promise<void>((resolve) => b.on('message', (m) => m[0] === 99 && resolve()));
    expect(got.messages.map((m) => m[0])).to.deep.equal([...Array(100).keys()]);
    expect(a.queuedMessages).to.equal(0);
    expect([a.counters.messagesOut, b.counters.messagesIn, a.counters.bytesOut, b.counters.bytesIn]).to.deep.equal([100, 100, 100, 100]);
    a.close();
  });

  it('never re-enters: a reply sent from a message handler arrives later', async () => {
    const [a, b] = memoryLinkPair(alice, bob, { clock: systemClock });
    let depth = 0;
    let rounds = 0;
    b.on('message', (m) => {
      depth++;
      expect(depth).to.equal(1);
      b.send(m);
      depth--;
    });
    await new Promise<void>((resolve) => {
      a.on('message', (m) => (++rounds === 50 ? resolve() : a.send(m)));
      a.send(Uint8Array.of(7));
    });
    expect(rounds).to.equal(50);
    a.close();
  });

  it('delays by latencyMs on a virtual clock', () => {
    const clock = new VirtualClock();
    const [a, b] = memoryLinkPair(alice, bob, { clock, latencyMs: 40 });
    const got = record(b);
    a.send(Uint8Array.of(1));
    clock.advance(20);
    a.send(Uint8Array.of(2));
    clock.advance(19);
    expect(got.messages).to.deep.equal([]);
    clock.advance(1);
    expect(got.messages).to.deep.equal([[1]]);
    clock.advance(19);
    expect(got.messages).to.deep.equal([[1]]);
    clock.advance(1);
    expect(got.messages).to.deep.equal([[1], [2]]);
    expect(clock.pendingCount).to.equal(0);
  });

  it('sends at bandwidthBps: messages leave one after another, then take the latency; the close comes after them', () => {
    const clock = new VirtualClock();
    // 1,000 bytes at 80 kbit/s take 100 ms to leave.
    const [a, b] = memoryLinkPair(alice, bob, { clock, latencyMs: 10, bandwidthBps: 80_000 });
    const got = record(b);
    a.send(new Uint8Array(1000));
    a.send(new Uint8Array(1000));
    a.close();
    clock.advance(109);
    expect(got.messages).to.have.length(0);
    clock.advance(1);
    expect(got.messages).to.have.length(1);
    clock.advance(99);
    expect(got.messages).to.have.length(1);
    clock.advance(1);
    expect([got.messages.length, got.closes.length]).to.deep.equal([2, 1]);
    expect(() => memoryLinkPair(alice, bob, { clock, bandwidthBps: 0 })).to.throw(RangeError);
  });

  it('delivers the bytes it was given, not a copy of them (as a socket queues them; a sender does not change bytes it sent)', () => {
    const clock = new VirtualClock();
    const [a, b] = memoryLinkPair(alice, bob, { clock });
    const sent = Uint8Array.of(1, 2, 3);
    let received: Uint8Array | undefined;
    b.on('message', (m) => (received = m));
    a.send(sent);
    clock.advance(0);
    expect(received).to.equal(sent);
    expect([...received!]).to.deep.equal([1, 2, 3]);
  });

  it('a clean close reaches the other end after the messages already sent', () => {
    const clock = new VirtualClock();
    const [a, b] = memoryLinkPair(alice, bob, { clock, latencyMs: 10 });
    const atA = record(a);
    const atB = record(b);
    a.send(Uint8Array.of(1));
    a.close();
    expect(atA.closes).to.deep.equal([undefined]);
    expect(a.open).to.equal(false);
    expect(a.send(Uint8Array.of(2))).to.equal(false);
    expect(b.open).to.equal(true);
    // b does not know yet: what it sends now is lost with the link.
    expect(b.send(Uint8Array.of(3))).to.equal(true);
    clock.advance(10);
    expect(atB.messages).to.deep.equal([[1]]);
    expect(atB.closes).to.deep.equal([undefined]);
    expect(atA.messages).to.deep.equal([]);
    a.close();
    b.close();
    clock.advance(10);
    expect(atA.closes).to.have.length(1);
    expect(atB.closes).to.have.length(1);
    expect(clock.pendingCount).to.equal(0);
  });

  it('a close with an error reaches the other end as a reset', () => {
    const clock = new VirtualClock();
    const [a, b] = memoryLinkPair(alice, bob, { clock });
    const atA = record(a);
    const atB = record(b);
    const why = new Error('protocol violation');
    a.close(why);
    clock.advance(0);
    expect(atA.closes).to.deep.equal([why]);
    expect(atB.closes).to.have.length(1);
    expect(atB.closes[0]!.message).to.equal(`link reset by ${alice.user}`);
  });

  it('a close from inside a message handler still delivers in order and leaves no timer', () => {
    const clock = new VirtualClock();
    const [a, b] = memoryLinkPair(alice, bob, { clock, latencyMs: 5 });
    const atA = record(a);
    b.on('message', () => a.close());
    a.send(Uint8Array.of(1));
    a.send(Uint8Array.of(2));
    clock.advance(5);
    expect(atA.closes).to.have.length(1);
    expect(b.open).to.equal(true);
    clock.advance(5);
    expect(b.open).to.equal(false);
    expect(clock.pendingCount).to.equal(0);
  });

  it('drops traffic both ways while partitioned, including messages in flight', () => {
    const clock = new VirtualClock();
    const [a, b] = memoryLinkPair(alice, bob, { clock, latencyMs: 10 });
    const atA = record(a);
    const atB = record(b);
    a.send(Uint8Array.of(1));
    b.partition(true);
    expect(a.partitioned).to.equal(true);
    expect(a.send(Uint8Array.of(2))).to.equal(true);
    expect(b.send(Uint8Array.of(3))).to.equal(true);
    clock.advance(10);
    expect(atB.messages).to.deep.equal([]);
    expect(atA.messages).to.deep.equal([]);
    a.partition(false);
    a.send(Uint8Array.of(4));
    b.send(Uint8Array.of(5));
    clock.advance(10);
    expect(atB.messages).to.deep.equal([[4]]);
    expect(atA.messages).to.deep.equal([[5]]);
    expect(a.open && b.open).to.equal(true);
  });

  it('bounds the messages in flight by queueLimit', () => {
    const clock = new VirtualClock();
    const [a, b] = memoryLinkPair(alice, bob, { clock, latencyMs: 10, queueLimit: 3 });
    const atB = record(b);
    expect([1, 2, 3, 4].map((i) => a.send(Uint8Array.of(i)))).to.deep.equal([true, true, true, false]);
    expect(a.queuedMessages).to.equal(3);
    expect(b.send(Uint8Array.of(9))).to.equal(true);
    clock.advance(10);
    expect(a.send(Uint8Array.of(5))).to.equal(true);
    clock.advance(10);
    expect(atB.messages).to.deep.equal([[1], [2], [3], [5]]);
  });

  it('loses a seeded, repeatable share of messages', () => {
    const run = () => {
      const clock = new VirtualClock();
      const [a, b] = memoryLinkPair(alice, bob, { clock, lossRate: 0.3, random: seededRandom(42).next });
      const got = record(b);
      for (let i = 0; i < 1000; i++) a.send(Uint8Array.of(i & 0xff));
      clock.advance(0);
      return got.messages.length;
    };
    const delivered = run();
    expect(delivered).to.equal(run());
    expect(delivered).to.be.within(620, 780);
    expect(() => memoryLinkPair(alice, bob, { clock: new VirtualClock(), lossRate: 2 })).to.throw(RangeError);
  });
});
