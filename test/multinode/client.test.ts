import { ringStatus } from '../helpers/ring-check.js';
import { expect } from 'chai';
import { idToHex, randomId } from '../../overlay/id.js';
import { Node } from '../../overlay/node.js';
import { sharedPki } from '../helpers/pki.js';
import { settleNodes } from '../helpers/settle.js';
import { portOf, RingTruth, startTestnet, type Testnet } from '../helpers/testnet.js';
import { waitFor, waitForAsync } from '../helpers/wait.js';

describe('a client (RFC 6940 §3.2) beside a ring of 8 peers over TLS', function () {
  this.timeout(120_000);
  let net: Testnet;
  let client: Node;

  before(async () => {
    net = await startTestnet(8, { batch: 4 });
    // The client must attach to the ground truth's responsible peer, which a settled ring gives it.
    await settleNodes(net.nodes);
    const pki = await sharedPki();
    client = new Node({ config: net.config, identity: await pki.enroll(), client: true, bootstrap: [{ host: '127.0.0.1', port: portOf(net.nodes[3]!) }] });
    await client.start();
  });

  after(async () => {
    await client?.stop();
    await net?.stopAll();
  });

  it('attaches to the peer responsible for its Node-ID, and to nothing else for routing', () => {
    const truth = new RingTruth(net.nodes.map((n) => n.nodeId));
    expect(client.state).to.equal('joined');
    expect(ringStatus(client).successors).to.deep.equal([truth.responsible(client.nodeId)]);
    for (const n of net.nodes) {
      const s = ringStatus(n);
      expect([...s.successors, ...s.predecessors, ...s.fingers.map((f) => f.peer)]).not.to.include(client.nodeIdHex);
    }
  });

  it('reaches every peer, and every peer reaches it through its responsible peer', async () => {
    const truth = new RingTruth(net.nodes.map((n) => n.nodeId));
    const responsible = truth.responsible(client.nodeId);
    for (const n of net.nodes) {
      expect((await client.ping(n.nodeId)).responder).to.equal(n.nodeIdHex);
      const back = await n.ping(client.nodeId);
      expect(back.responder).to.equal(client.nodeIdHex);
      // The answer's path ends with the responsible peer relaying it (unless n is that peer).
      expect(back.hops).to.be.at.least(n.nodeIdHex === responsible ? 1 : 2);
    }
  });

  it('routes Resource-IDs to the responsible peers, never to itself', async () => {
    const truth = new RingTruth(net.nodes.map((n) => n.nodeId));
    for (let i = 0; i < 40; i++) {
      const key = randomId();
      expect((await client.route(key)).responsible, idToHex(key)).to.equal(truth.responsible(key));
    }
    // Even its own Node-ID as a Resource-ID belongs to a peer.
    expect((await client.route(client.nodeId)).responsible).to.equal(truth.responsible(client.nodeId));
  });

  it('does not forward for others', async () => {
    // Through the client to its own responsible peer, the one node it has a link to: still refused.
    const responsible = net.nodes.find((n) => n.nodeIdHex === ringStatus(client).successors[0])!;
    const other = net.nodes.find((n) => n !== responsible)!;
    const err = await other.request([{ type: 'node', id: client.nodeId }, { type: 'node', id: responsible.nodeId }], 0x17, [new Uint8Array(0)]).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.match(/no route/);
  });

  it('follows responsibility when its responsible peer leaves', async () => {
    const before = ringStatus(client).successors[0]!;
    const leaving = net.nodes.find((n) => n.nodeIdHex === before)!;
    await leaving.stop({ leave: true });
    net.nodes.splice(net.nodes.indexOf(leaving), 1);
    const truth = new RingTruth(net.nodes.map((n) => n.nodeId));
    await waitFor(() => ringStatus(client).successors[0] === truth.responsible(client.nodeId), 20 * net.config.chord.updateIntervalMs, 'client re-attached');
    // Every peer reaches the client through its new responsible peer once the peers' ring has closed the gap.
    await settleNodes(net.nodes);
    // ...and once the new responsible peer holds the client's link (the client's side can be up first).
    const reachable = async () => (await Promise.all(net.nodes.map((n) => n.ping(client.nodeId).then(() => true, () => false)))).every(Boolean);
    await waitForAsync(reachable, 20 * net.config.chord.updateIntervalMs, 'every peer reaches the client', 100);
    for (const n of net.nodes) expect((await n.ping(client.nodeId)).responder).to.equal(client.nodeIdHex);
  });
});
