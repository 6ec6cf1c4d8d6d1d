/**
 * Reachability and connection reversal over real TLS on loopback. A node that listens on
 * 127.0.0.2 but dials out from 127.0.0.1 is, to its peers, what a node behind a NAT is: they see
 * it at an address where nothing listens for it. (Hole punching needs real NATs:
 * test/netns/nat-traversal.test.ts.)
 */
import { expect } from 'chai';
import net from 'node:net';
import { parseHostPort } from '../../overlay/config.js';
import { Node } from '../../overlay/node.js';
import { MessageCode } from '../../overlay/wire/codes.js';
import { sharedPki } from '../helpers/pki.js';
import { portOf, startTestnet, type Testnet } from '../helpers/testnet.js';
import { waitFor } from '../helpers/wait.js';

/** Does a TCP connect to host:port succeed? The ground truth of "can be dialled". */
function connects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

describe('reachability and connection reversal (TLS on loopback)', function () {
  this.timeout(60_000);
  let ring: Testnet;
  const extra: Node[] = [];
  const bootstrap = () => [{ host: '127.0.0.1', port: portOf(ring.nodes[0]!) }];
  const start = async (opts: { host: string; client?: boolean; links?: Partial<Testnet['config']['links']> }) => {
    const config = { ...ring.config, links: { ...ring.config.links, ...opts.links } };
    const node = new Node({ config, identity: await (await sharedPki()).enroll(), listen: { host: opts.host, port: 0 }, bootstrap: bootstrap(), client: opts.client });
    extra.push(node);
    await node.start();
    return node;
  };

  before(async () => {
    ring = await startTestnet(3);
  });
  after(async () => {
    await Promise.all(extra.map((n) => n.stop()));
    await ring?.stopAll();
  });

  it('a node seen at its own address is dialable, and says so with the address its link comes from', async () => {
    const node = ring.nodes[1]!;
    const { observed, dialable, mapping } = node.reachability;
    const toBootstrap = node.linkList().find((l) => l.remoteNodeIdHex === ring.nodes[0]!.nodeIdHex)!;
    expect(observed).to.equal(toBootstrap.localAddress);
    expect(dialable).to.equal(true);
    expect(mapping).to.equal('none');
    expect(await connects('127.0.0.1', portOf(node))).to.equal(true);
  });

  it('a node its peers see at an address it does not listen on is not dialable', async () => {
    const hidden = await start({ host: '127.0.0.2' });
    const seen = parseHostPort(hidden.reachability.observed!);
    expect(seen.host).to.equal('127.0.0.1');
    expect(hidden.reachability.dialable).to.equal(false);
    expect(await connects('127.0.0.1', parseHostPort(hidden.listenAddress!).port)).to.equal(false);
    // Still a full peer: every node of the ring holds a link to it (the ring is 4 nodes, all neighbours).
    await waitFor(() => ring.nodes.every((n) => n.linkList().some((l) => l.remoteNodeIdHex === hidden.nodeIdHex)), 20_000, 'every peer linked to the hidden node');
  });

  it('an Attach to a node that cannot be dialled is answered by that node dialling back (reversal)', async () => {
    const hidden = extra[0]!;
    // A client is in no peer's table: only its own Attach links it to the hidden node (at join,
    // when the hidden node is the peer responsible for the client's Node-ID, else here).
    const client = await start({ host: '127.0.0.1', client: true });
    const link = await client.attach({ type: 'node', id: hidden.nodeId });
    expect(link.remoteNodeIdHex).to.equal(hidden.nodeIdHex);
    expect(client.linkMechanism(link)).to.equal('reversed');
    await waitFor(() => hidden.linkList().some((l) => l.remoteNodeIdHex === client.nodeIdHex), 10_000, 'the hidden node holds the link');
    const theirs = hidden.linkList().find((l) => l.remoteNodeIdHex === client.nodeIdHex)!;
    expect(hidden.linkMechanism(theirs)).to.equal('reversed');
    // The link carries messages both ways.
    expect((await client.ping(hidden.nodeId)).responder).to.equal(hidden.nodeIdHex);
  });

  it('two nodes that cannot be dialled, whose punch misses, link through the relay', async () => {
    // On loopback nothing holds a SYN for the other side (a NAT would): the simultaneous open gets
    // reset and misses, and the answerer's relay carries the link.
    const hidden = extra[0]!;
    const other = await start({ host: '127.0.0.3', links: { traversalTimeoutMs: 1000 } });
    expect(other.reachability.dialable).to.equal(false);
    await waitFor(() => other.linkList().some((l) => l.remoteNodeIdHex === hidden.nodeIdHex), 30_000, 'the two hidden nodes linked');
    const link = other.linkList().find((l) => l.remoteNodeIdHex === hidden.nodeIdHex)!;
    expect(['relayed', 'punched']).to.include(other.linkMechanism(link));
    expect((await other.ping(hidden.nodeId)).hops).to.equal(1);
  });

  it('asks again while it runs, over links it dialled, and keeps the same answer while nothing changed', async () => {
    const node = await start({ host: '127.0.0.1', links: { reachabilityIntervalMs: 300 } });
    const asked = () => node.metrics.messagesSent(MessageCode.ReachabilityReq);
    const atJoin = asked();
    expect(atJoin).to.be.at.least(1);
    await waitFor(() => asked() >= atJoin + 4, 10_000, 'two more rounds of asking');
    expect(node.reachability).to.deep.include({ dialable: true, mapping: 'none' });
  });

  it('a node that cannot be dialled holds a place at a relay, and takes another when its relay goes', async () => {
    const hidden = extra[0]!;
    const first = hidden.reachability.relay!;
    expect(first.nodeId).to.equal(ring.nodes[0]!.nodeIdHex);
    await ring.nodes[0]!.stop();
    await waitFor(() => hidden.reachability.relay !== null && hidden.reachability.relay.nodeId !== first.nodeId, 20_000, 'a new relay');
    const now = hidden.reachability.relay!;
    expect(ring.nodes.slice(1).map((n) => n.nodeIdHex)).to.include(now.nodeId);
  });
});
