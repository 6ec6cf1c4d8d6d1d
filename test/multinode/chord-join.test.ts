/**
 * A joining node borrows its fingers from the admitting peer, which answers a `full` Update with
 * its fingers as well as its neighbours (RFC 6940 §10.7.4 lets fingers come from observed Updates),
 * instead of looking each target up through the overlay. Memory links, virtual clock; the finger
 * slots are checked against the ground truth of the live Node-IDs.
 */
import { expect } from 'chai';
import type { VirtualClock } from '../../overlay/clock.js';
import { idFromHex, ringDistance } from '../../overlay/id.js';
import type { Identity } from '../../certs/identity.js';
import type { Node } from '../../overlay/node.js';
import { encodeUpdate, parseUpdateAnswer, UPDATE_FULL, UPDATE_NEIGHBORS } from '../../overlay/topology/chord/chord-messages.js';
import { MessageCode } from '../../overlay/wire/codes.js';
import { ringStatus, wrongNeighbours } from '../helpers/ring-check.js';
import { RingTruth, startVirtualTestnet, type Testnet } from '../helpers/testnet.js';
import { waitForVirtual } from '../helpers/wait.js';

const PEERS = 40;

describe('Chord join: fingers borrowed from the admitting peer', function () {
  this.timeout(120_000);
  let clock: VirtualClock;
  let net: Testnet;
  let newcomerIdentity: Identity;

  before(async () => {
    // No periodic finger round during the test: whatever fingers a newcomer has, its join gave it.
    let spares: Identity[];
    ({ clock, net, spares } = await startVirtualTestnet(PEERS, { batch: 8, chord: { fingerIntervalMs: 3_600_000 }, spares: 1 }));
    newcomerIdentity = spares[0]!;
    await waitForVirtual(clock, () => wrongNeighbours(net.nodes, net.config.chord.neighbourCount).length === 0, 30_000, 'neighbour tables');
  });

  after(async () => net && (await clock.until(net.stopAll(), 30_000)));

  const update = (from: Node, to: Node, type: number) =>
    clock.until(from.request([{ type: 'node', id: to.nodeId }], MessageCode.UpdateReq, encodeUpdate({ uptimeSec: 1, type, predecessors: [], successors: [], fingers: [] })), 10_000);

  it('a full Update is answered with the fingers as well as the neighbours; a neighbors Update with the neighbours only', async () => {
    const [asker, answerer] = [net.nodes[1]!, net.nodes[7]!];
    const fingers = ringStatus(answerer).fingers.flatMap((f) => (f.peer ? [f.peer] : []));
    expect(fingers.length, 'the answerer has fingers to lend').to.be.greaterThan(2);
    const full = parseUpdateAnswer((await update(asker, answerer, UPDATE_FULL)).body);
    expect(full.fingers.map((f) => Buffer.from(f).toString('hex'))).to.deep.equal(fingers);
    expect(full.successors.map((f) => Buffer.from(f).toString('hex'))).to.deep.equal(ringStatus(answerer).successors);
    const neighbours = parseUpdateAnswer((await update(asker, answerer, UPDATE_NEIGHBORS)).body);
    expect(neighbours.fingers).to.deep.equal([]);
  });

  it('a newcomer fills every finger slot the live ring fills, each with a live node inside the slot', async () => {
    // Checked as soon as the join has finished: its fingers are what the join gave it.
    const newcomer = await clock.until(net.add(net.nodes[5], newcomerIdentity), 60_000);
    const truth = new RingTruth(net.nodes.map((n) => n.nodeId));
    const self = newcomer.nodeId;
    const slots = ringStatus(newcomer).fingers;
    let filled = 0;
    for (const [k, slot] of slots.entries()) {
      const start = ringDistance(self, idFromHex(slot.target));
      // Slot i holds offsets [2^(128−i), 2^(129−i)): up to the previous slot's target (finger 1 up to a whole ring).
      const end = k === 0 ? 1n << 128n : ringDistance(self, idFromHex(slots[k - 1]!.target));
      const first = truth.responsible(idFromHex(slot.target));
      const truthFills = first !== newcomer.nodeIdHex && ringDistance(self, idFromHex(first)) < end;
      if (!truthFills) {
        expect(slot.peer, `slot ${slot.index} has no live node in it`).to.equal(null);
        continue;
      }
      filled++;
      expect(slot.peer, `slot ${slot.index}: the ring has ${first.slice(0, 8)} there`).to.not.equal(null);
      expect(truth.ids(), `slot ${slot.index}: a live node`).to.include(slot.peer);
      const offset = ringDistance(self, idFromHex(slot.peer!));
      expect(offset >= start && offset < end, `slot ${slot.index}: ${slot.peer!.slice(0, 8)} lies inside the slot`).to.equal(true);
    }
    expect(filled, 'a 41-node ring fills several slots').to.be.greaterThan(3);
  });
});
