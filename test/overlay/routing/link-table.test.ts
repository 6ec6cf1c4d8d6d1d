import { expect } from 'chai';
import { VirtualClock } from '../../../overlay/clock.js';
import { randomId } from '../../../overlay/id.js';
import { memoryLinkPair } from '../../../overlay/link/memory-link.js';
import { LinkTable } from '../../../overlay/routing/link-table.js';

const self = { nodeId: randomId(), user: 'self@test.reload' };
const peer = { nodeId: randomId(), user: 'peer@test.reload' };

describe('routing/link-table', () => {
  const clock = new VirtualClock();
  /** A link from self to peer (self's end). */
  const linkToPeer = () => memoryLinkPair(self, peer, { clock })[0];

  it('a second link for a Node-ID does not take over: the first stays in use until it closes', () => {
    const closed: string[] = [];
    const table = new LinkTable(8, () => {}, (l) => closed.push(l.remoteNodeIdHex));
    const first = linkToPeer();
    const second = linkToPeer();
    expect(table.add(first)).to.equal(true);
    expect(table.add(second)).to.equal(true);
    expect(table.get(peer.nodeId)).to.equal(first);
    expect(table.links()).to.deep.equal([first]);
    expect(table.size).to.equal(2);
    first.close();
    expect(table.get(peer.nodeId)).to.equal(second);
    expect(closed).to.have.length(1);
    second.close();
    expect(table.get(peer.nodeId)).to.equal(undefined);
  });

  it('messages from every link in the table are handed on, the waiting one included', () => {
    const from: unknown[] = [];
    const table = new LinkTable(8, (_bytes, link) => from.push(link));
    const [first, firstFar] = memoryLinkPair(self, peer, { clock });
    const [second, secondFar] = memoryLinkPair(self, peer, { clock });
    table.add(first);
    table.add(second);
    firstFar.send(Uint8Array.of(1));
    secondFar.send(Uint8Array.of(2));
    clock.advance(10);
    expect(from).to.deep.equal([first, second]);
  });

  it('refuses links beyond maxLinks', () => {
    const table = new LinkTable(1, () => {});
    expect(table.add(linkToPeer())).to.equal(true);
    const extra = linkToPeer();
    expect(table.add(extra)).to.equal(false);
    expect(extra.open).to.equal(false);
  });
});
