import { expect } from 'chai';
import { VirtualClock } from '../../../overlay/clock.js';
import { randomId } from '../../../overlay/id.js';
import type { Link } from '../../../overlay/link/link.js';
import { memoryLinkPair, type MemoryLinkEnd } from '../../../overlay/link/memory-link.js';
import { LinkTable, type LinkDropReason, type LinkTableOptions } from '../../../overlay/routing/link-table.js';

const self = { nodeId: randomId(), user: 'self@test.reload' };
const peer = { nodeId: randomId(), user: 'peer@test.reload' };

describe('routing/link-table', () => {
  const clock = new VirtualClock();
  /** A link from self to `to` (self's end). */
  const linkTo = (to: MemoryLinkEnd = peer) => memoryLinkPair(self, to, { clock })[0];
  const newPeer = (): MemoryLinkEnd => ({ nodeId: randomId(), user: 'other@test.reload' });
  const drops: { link: Link; reason: LinkDropReason }[] = [];
  const table = (opts: Partial<LinkTableOptions> = {}) =>
    new LinkTable({
      maxLinks: 8,
      maxLinksPerNode: 2,
      now: () => clock.now(),
      isProtected: () => false,
      onMessage: () => {},
      onDropped: (link, reason) => drops.push({ link, reason }),
      ...opts,
    });
  beforeEach(() => (drops.length = 0));

  it('a second link for a Node-ID does not take over: the first stays in use until it closes', () => {
    const closed: string[] = [];
    const t = table({ onClosed: (l) => closed.push(l.remoteNodeIdHex) });
    const first = linkTo();
    const second = linkTo();
    expect(t.add(first)).to.equal(true);
    expect(t.add(second)).to.equal(true);
    expect(t.get(peer.nodeId)).to.equal(first);
    expect(t.links()).to.deep.equal([first]);
    expect(t.size).to.equal(2);
    first.close();
    expect(t.get(peer.nodeId)).to.equal(second);
    expect(closed).to.have.length(1);
    second.close();
    expect(t.get(peer.nodeId)).to.equal(undefined);
  });

  it('messages from every link in the table are handed on, the waiting one included', () => {
    const from: unknown[] = [];
    const t = table({ onMessage: (_bytes, link) => from.push(link) });
    const [first, firstFar] = memoryLinkPair(self, peer, { clock });
    const [second, secondFar] = memoryLinkPair(self, peer, { clock });
    t.add(first);
    t.add(second);
    firstFar.send(Uint8Array.of(1));
    secondFar.send(Uint8Array.of(2));
    clock.advance(10);
    expect(from).to.deep.equal([first, second]);
  });

  it('one Node-ID holds at most maxLinksPerNode links: further ones are refused, counted, and a slot frees when one closes', () => {
    const t = table({ maxLinksPerNode: 2 });
    const [a, b, c] = [linkTo(), linkTo(), linkTo()];
    expect(t.add(a)).to.equal(true);
    expect(t.add(b)).to.equal(true);
    expect(t.add(c)).to.equal(false);
    expect(c.open).to.equal(false);
    expect(drops.map((d) => [d.link, d.reason])).to.deep.equal([[c, 'per_node_limit']]);
    expect(t.add(linkTo(newPeer())), 'another Node-ID still gets in').to.equal(true);
    a.close();
    expect(t.add(linkTo())).to.equal(true);
  });

  it('a full table evicts the link idle the longest among those not needed, and refuses only when every link is needed', () => {
    const needed = new Set<Link>();
    const t = table({ maxLinks: 3, isProtected: (l) => needed.has(l) });
    const pairs = [newPeer(), newPeer(), newPeer()].map((p) => memoryLinkPair(self, p, { clock }));
    for (const [near] of pairs) {
      expect(t.add(near)).to.equal(true);
      clock.advance(10);
    }
    // The oldest link speaks, so the second one is now idle the longest; the third is needed.
    pairs[0]![1].send(Uint8Array.of(1));
    clock.advance(10);
    needed.add(pairs[2]![0]);
    const newcomer = linkTo(newPeer());
    expect(t.add(newcomer)).to.equal(true);
    expect(drops.map((d) => [d.link, d.reason])).to.deep.equal([[pairs[1]![0], 'evicted_for_newcomer']]);
    expect(pairs[1]![0].open).to.equal(false);
    expect(t.size).to.equal(3);

    for (const l of [pairs[0]![0], newcomer]) needed.add(l);
    const refused = linkTo(newPeer());
    expect(t.add(refused)).to.equal(false);
    expect(refused.open).to.equal(false);
    expect(drops.at(-1)).to.deep.equal({ link: refused, reason: 'table_full' });
    expect(t.size).to.equal(3);
  });
});
