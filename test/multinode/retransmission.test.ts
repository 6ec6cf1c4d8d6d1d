import { expect } from 'chai';
import { idEquals, randomId } from '../../overlay/id.js';
import { decodeStoreReq } from '../../overlay/storage/codec.js';
import type { Link } from '../../overlay/link/link.js';
import { decodeContents, decodeMessage } from '../../overlay/wire/codec.js';
import { MessageCode } from '../../overlay/wire/codes.js';
import { settleNodes } from '../helpers/settle.js';
import { RingTruth, startTestnet, type Testnet } from '../helpers/testnet.js';

/** Any node may write under any resource, keyed by its own Node-ID. */
const KIND = { id: 0xf0000030, name: 'retry', dataModel: 'dictionary' as const, accessControl: 'NODE-ID-MATCH' as const, maxCount: 8, maxSize: 256 };

/**
 * End-to-end retransmission (RFC 6940 §6.2.1) over TLS: the first answer to a Store is lost on its
 * way back, the origin sends the request again with the same transaction id, and the responsible
 * node answers from its memory of recent answers instead of storing twice.
 */
describe('a Store whose answer is lost', function () {
  this.timeout(60_000);
  let net: Testnet;
  after(async () => net && (await net.stopAll()));

  it('is retransmitted with the same transaction id and answered again without a second store: the generation moves once', async () => {
    net = await startTestnet(3, { kinds: [KIND] });
    await settleNodes(net.nodes);
    const truth = new RingTruth(net.nodes.map((n) => n.nodeId));
    const origin = net.nodes[0]!;
    let resource = randomId();
    while (truth.responsible(resource) === origin.nodeIdHex) resource = randomId();
    const responsible = net.nodes.find((n) => n.nodeIdHex === truth.responsible(resource))!;

    // The responsible node runs its Store handler once per request it stores.
    const handler = responsible.dispatcher.handlerFor(MessageCode.StoreReq);
    const serve = handler.handle.bind(handler);
    // Other Stores reach it too (replica pushes, certificates): only original Stores of our resource count.
    const handled: string[] = [];
    handler.handle = (body, ctx) => {
      const req = decodeStoreReq(ctx.raw, net.config.maxMessageSize);
      if (req.replicaNumber === 0 && idEquals(req.resource, resource)) handled.push(String(ctx.header.transactionId));
      return serve(body, ctx);
    };
    // Its first answer to a Store of our resource is lost.
    const dropped: string[] = [];
    for (const link of responsible.linkList()) {
      const send = link.send.bind(link) as Link['send'];
      link.send = (bytes) => {
        const msg = decodeMessage(bytes, net.config.maxMessageSize);
        const txn = String(msg.header.transactionId);
        if (dropped.length === 0 && handled.includes(txn) && decodeContents(msg.contentsBytes).code === MessageCode.StoreAns) {
          dropped.push(txn);
          return true;
        }
        return send(bytes);
      };
    }

    const value = { model: 'dictionary' as const, key: origin.nodeId, value: { exists: true, value: Buffer.from('once') } };
    const answer = await origin.storage.store(KIND.name, resource, value);
    expect(dropped, 'an answer was lost').to.have.length(1);
    expect(handled, 'Stores of the resource handled: one, whose answer was lost').to.deep.equal(dropped);
    expect(answer.responsible).to.equal(responsible.nodeIdHex);
    expect(answer.generation).to.equal(1n);
    const held = responsible.storage.engine.fetch(resource, [{ kindId: KIND.id, generation: 0n, selector: { model: 'dictionary', keys: [] } }]).kinds[0]!;
    expect(held.generation).to.equal(1n);
    expect(held.values).to.have.length(1);
  });
});
