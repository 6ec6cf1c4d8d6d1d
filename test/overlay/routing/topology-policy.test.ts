/**
 * Next-hop decisions: a node not yet in the overlay (a bootstrap node still joining) answers for no
 * Resource-ID of others, however responsible its partial table makes it look; its own messages
 * and those addressed to its Node-ID still reach it.
 */
import { expect } from 'chai';
import { VirtualClock } from '../../../overlay/clock.js';
import { addToId, randomId } from '../../../overlay/id.js';
import { memoryLinkPair } from '../../../overlay/link/memory-link.js';
import { LinkTable } from '../../../overlay/routing/link-table.js';
import { topologyPolicy } from '../../../overlay/routing/topology-policy.js';
import { ChordTable } from '../../../overlay/topology/chord/chord-table.js';
import { isReloadError, ErrorCode } from '../../../overlay/errors.js';

describe('routing/topology-policy', () => {
  const clock = new VirtualClock();
  const self = { nodeId: randomId(), user: 'self@test.reload' };
  const peer = { nodeId: randomId(), user: 'peer@test.reload' };

  /** A node whose table knows one peer, linked; `joined` says whether it is in the overlay. */
  const setup = (joined: boolean) => {
    const table = new ChordTable(self.nodeId, { neighbourCount: 3, fingerCount: 16 });
    const links = new LinkTable({ maxLinks: 8, maxLinksPerNode: 2, now: () => clock.now(), isProtected: () => false, onMessage: () => {} });
    const [link] = memoryLinkPair(self, peer, { clock });
    links.add(link);
    table.add(peer.nodeId);
    let inOverlay = joined;
    const policy = topologyPolicy(table, links, { routesForOthers: true, inOverlay: () => inOverlay });
    return { policy, link, join: () => (inOverlay = true) };
  };
  // Chord: self owns (peer, self], so self itself is a Resource-ID it answers for.
  const owned = { type: 'resource' as const, id: self.nodeId };

  it('joined, it answers for the Resource-IDs it owns, for others as for itself', () => {
    const { policy } = setup(true);
    expect(policy.nextHop(owned, true)).to.deep.equal({ kind: 'local' });
    expect(policy.nextHop(owned, false)).to.deep.equal({ kind: 'local' });
  });

  it('still joining, it refuses to answer for others with Not_Found not_in_overlay, and does once joined', () => {
    const { policy, join } = setup(false);
    let refused: unknown;
    try {
      policy.nextHop(owned, true);
    } catch (e) {
      refused = e;
    }
    expect(isReloadError(refused) && refused.code === ErrorCode.Not_Found && refused.reason === 'not_in_overlay', String(refused)).to.equal(true);
    // Its own requests (a join's own lookups) are still its business.
    expect(policy.nextHop(owned, false)).to.deep.equal({ kind: 'local' });
    join();
    expect(policy.nextHop(owned, true)).to.deep.equal({ kind: 'local' });
  });

  it('still joining, it forwards towards a Resource-ID it does not own and reaches linked Node-IDs', () => {
    const { policy, link } = setup(false);
    // The peer owns (self, peer]: peer itself, and the id just past self.
    expect(policy.nextHop({ type: 'resource', id: peer.nodeId }, true)).to.deep.equal({ kind: 'link', link, direct: false });
    expect(policy.nextHop({ type: 'resource', id: addToId(self.nodeId, 1n) }, true)).to.deep.equal({ kind: 'link', link, direct: false });
    expect(policy.nextHop({ type: 'node', id: peer.nodeId }, true)).to.deep.equal({ kind: 'link', link, direct: true });
  });
});
