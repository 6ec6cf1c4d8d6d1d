import { expect } from 'chai';
import { idToHex, randomId } from '../../overlay/id.js';
import { RingTruth, startTestnet, TRANSPORTS, type Testnet } from '../helpers/testnet.js';
import { settleNodes } from '../helpers/settle.js';

for (const transport of TRANSPORTS) {
  describe(`a small ring over ${transport} links`, function () {
    this.timeout(60_000);
    let net: Testnet;
    after(async () => net && (await net.stopAll()));

    it('8 nodes join and agree with the ground truth', async () => {
      net = await startTestnet(8, { batch: 2, transport });
      const truth = new RingTruth(net.nodes.map((n) => n.nodeId));
      await settleNodes(net.nodes, 10_000);
      for (const a of net.nodes) for (const b of net.nodes) expect((await a.ping(b.nodeId)).responder).to.equal(b.nodeIdHex);
      for (let i = 0; i < 50; i++) {
        const key = randomId();
        const from = net.nodes[i % net.nodes.length]!;
        expect((await from.route(key)).responsible).to.equal(truth.responsible(key), idToHex(key));
      }
      for (const n of net.nodes) expect(n.linkList().every((l) => l.transport === transport)).to.equal(true);
    });
  });
}
