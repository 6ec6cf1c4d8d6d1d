/**
 * A retransmitted request that took another path gets the repeated answer along that path
 * (RFC 6940 §6.2.1, §6.3.4): the node on the first path that dropped the answer has left, so an
 * answer sent the old way again would never arrive. The same Node code over memory links, on a
 * virtual clock.
 */
import { expect } from 'chai';
import type { VirtualClock } from '../../overlay/clock.js';
import { idEquals, idToHex, randomId, type Id } from '../../overlay/id.js';
import type { Link } from '../../overlay/link/link.js';
import type { Node } from '../../overlay/node.js';
import { decodeContents, decodeMessage } from '../../overlay/wire/codec.js';
import { MessageCode } from '../../overlay/wire/codes.js';
import type { Destination } from '../../overlay/wire/message.js';
import { RingTruth, startVirtualTestnet, type Testnet } from '../helpers/testnet.js';

const PEERS = 16;

describe('a retransmitted request whose first path broke', function () {
  this.timeout(120_000);
  let clock: VirtualClock;
  let net: Testnet;

  before(async () => {
    ({ clock, net } = await startVirtualTestnet(PEERS));
    await clock.run(10_000);
  });

  after(async () => net && (await clock.until(net.stopAll(), 30_000)));

  it('gets the repeated answer along the path of the retransmission, after a node on the first path left', async () => {
    const truth = new RingTruth(net.nodes.map((n) => n.nodeId));
    const origin = net.nodes[0]!;
    // A key two or more hops away, so that the first path has a node in the middle.
    let key: Id = randomId();
    for (let tries = 0; ; tries++) {
      expect(tries, 'a key two hops from the origin').to.be.below(200);
      key = randomId();
      if (truth.responsible(key) !== origin.nodeIdHex && (await clock.until(origin.route(key), 10_000)).hops >= 2) break;
    }
    const responsible = net.nodes.find((n) => n.nodeIdHex === truth.responsible(key))!;

    // The responsible node's first RouteQuery answer for our key is lost, and the node it came
    // through leaves at that moment (abruptly: its links close).
    const handler = responsible.dispatcher.handlerFor(MessageCode.RouteQueryReq);
    const serve = handler.handle.bind(handler);
    const paths = new Map<string, Destination[][]>();
    handler.handle = (body, ctx) => {
      const txn = String(ctx.header.transactionId);
      paths.set(txn, [...(paths.get(txn) ?? []), ctx.header.via]);
      return serve(body, ctx);
    };
    let left: Node | undefined;
    let leaving: Promise<void> | undefined;
    const answers: Destination[][] = [];
    for (const link of responsible.linkList()) {
      const send = link.send.bind(link) as Link['send'];
      link.send = (bytes) => {
        const msg = decodeMessage(bytes, net.config.maxMessageSize);
        if (paths.has(String(msg.header.transactionId)) && decodeContents(msg.contentsBytes).code === MessageCode.RouteQueryAns) {
          answers.push(msg.header.destinations);
          if (!left) {
            const via = paths.get(String(msg.header.transactionId))![0]!;
            left = net.nodes.find((n) => idEquals(n.nodeId, via.at(-1)!.id))!;
            leaving = left.stop({ leave: false });
            return true;
          }
        }
        return send(bytes);
      };
    }
    const answer = await clock.until(origin.route(key, 20_000), 30_000);
    expect(answer.responsible).to.equal(responsible.nodeIdHex);
    expect(left, 'a node on the first path left').to.not.equal(undefined);
    expect(left).to.not.equal(origin);
    // The handler ran once; the retransmission got the remembered answer, addressed the new way.
    const hex = (path: Destination[]) => path.map((d) => idToHex(d.id as Id));
    expect([...paths.values()].at(-1), 'the RouteQuery was handled once').to.have.length(1);
    expect(answers.length, 'the answer was sent again').to.be.at.least(2);
    expect(hex(answers[0]!)).to.include(left!.nodeIdHex);
    expect(hex(answers.at(-1)!)).to.not.include(left!.nodeIdHex);
    expect(hex(answers.at(-1)!).at(-1)).to.equal(origin.nodeIdHex);
    await clock.until(leaving!, 10_000);
    net.nodes.splice(net.nodes.indexOf(left!), 1);
  });
});
