import { expect } from 'chai';
import { idToHex, randomId } from '../../overlay/id.js';
import { RingTruth, startTestnet, type Testnet } from '../helpers/testnet.js';
import { settleNodes } from '../helpers/settle.js';

describe('a small ring over TLS', function () {
  this.timeout(60_000);
  let net: Testnet;
  after(async () => net && (await net.stopAll()));

  it('8 nodes join and agree with the ground truth', async () => {
    net = await startTestnet(8, { batch: 2 });
    const truth = new RingTruth(net.nodes.map((n) => n.nodeId));
    await settleNodes(net.nodes, 10_000);
    for (const a of net.nodes) for (const b of net.nodes) expect((await a.ping(b.nodeId)).responder).to.equal(b.nodeIdHex);
    for (let i = 0; i < 50; i++) {
      const key = randomId();
      const from = net.nodes[i % net.nodes.length]!;
      expect((await from.route(key)).responsible).to.equal(truth.responsible(key), idToHex(key));
    }
  });
});
