/**
 * The periodic Update round (RFC 6940 §10.7.4) as the Chord plugin runs it: each node exchanges
 * with its successors only, since each predecessor's own round reaches it as that predecessor's
 * successor; a predecessor that went quiet gets an exchange of its own, so a silent failure (links
 * open, nothing answered) is still noticed from both sides. Memory links, virtual clock.
 */
import { expect } from 'chai';
import type { VirtualClock } from '../../overlay/clock.js';
import type { Link } from '../../overlay/link/link.js';
import type { Node } from '../../overlay/node.js';
import { MessageCode } from '../../overlay/wire/codes.js';
import { ringStatus, wrongNeighbours } from '../helpers/ring-check.js';
import { startVirtualTestnet, type Testnet } from '../helpers/testnet.js';
import { waitForVirtual } from '../helpers/wait.js';

const PEERS = 10;
const ROUNDS = 20;

describe('Chord stabilization: successors each round, quiet predecessors only', function () {
  this.timeout(120_000);
  let clock: VirtualClock;
  let net: Testnet;
  const k = () => net.config.chord.neighbourCount;
  const interval = () => net.config.chord.updateIntervalMs;

  const within = (limitMs: number, what: string, done: () => boolean) => waitForVirtual(clock, done, limitMs, what);
  const agrees = (nodes: Node[]) => wrongNeighbours(nodes, k()).length === 0;

  before(async () => {
    ({ clock, net } = await startVirtualTestnet(PEERS));
    await within(30_000, 'neighbour tables', () => agrees(net.nodes));
    // Past the join's reactive rounds and finger attaches.
    await clock.run(10 * interval());
  });

  after(async () => net && (await clock.until(net.stopAll(), 30_000)));

  it(`in a settled ring each node sends about ${ROUNDS} rounds × its successors Update requests, not twice that`, async () => {
    const before = net.nodes.map((n) => n.metrics.messagesSent(MessageCode.UpdateReq));
    await clock.run(ROUNDS * interval());
    const sent = net.nodes.map((n, i) => n.metrics.messagesSent(MessageCode.UpdateReq) - before[i]!);
    // One round more or less at the window's edges; every neighbour each round would be 2·k·ROUNDS.
    for (const s of sent) expect(s).to.be.within((ROUNDS - 1) * k(), (ROUNDS + 1) * k());
  });

  it('a node that goes silent with its links open is dropped by its predecessors and its successors', async () => {
    const silent = net.nodes[3]!;
    const mute = () => {
      for (const link of silent.linkList()) (link as { send: Link['send'] }).send = () => true;
    };
    mute();
    const others = net.nodes.filter((n) => n !== silent);
    const lists = (n: Node) => [...ringStatus(n).successors, ...ringStatus(n).predecessors];
    const holders = () => others.filter((n) => lists(n).includes(silent.nodeIdHex));
    expect(holders().length, 'its neighbours list it before').to.equal(2 * k());
    // Its successors no longer hear it as their predecessor: within 1.5 rounds, the next round and the timeout.
    await within(4 * interval() + net.config.chord.neighbourTimeoutMs + 2_000, 'the silent node dropped', () => {
      mute();
      return holders().length === 0;
    });
    await within(30_000, 'the others agree with the ground truth without it', () => agrees(others));
  });
});
