import { expect } from 'chai';
import type { Identity } from '../../certs/identity.js';
import { systemClock } from '../../overlay/clock.js';
import { newOverlayConfig, type OverlayConfig } from '../../overlay/config.js';
import { ErrorCode, ReloadError } from '../../overlay/errors.js';
import { idToHex, randomId, type Id } from '../../overlay/id.js';
import { connectTls, type TlsLink } from '../../overlay/link/tls-link.js';
import { createLogger } from '../../overlay/log.js';
import { attachRequestBody } from '../../overlay/methods/attach.js';
import { pingRequestBody } from '../../overlay/methods/ping.js';
import { Node } from '../../overlay/node.js';
import { encodeCbor } from '../../overlay/wire/cbor.js';
import { decodeContents, decodeErrorBody, decodeMessage, encodeMessage, overlayHash } from '../../overlay/wire/codec.js';
import { MessageCode } from '../../overlay/wire/codes.js';
import type { Destination, ForwardingHeader, WireMessage } from '../../overlay/wire/message.js';
import { signMessage, verifyMessage } from '../../overlay/wire/sign.js';
import { rejection } from '../helpers/rejection.js';
import { waitFor } from '../helpers/wait.js';
import { sharedPki, TEST_OVERLAY, type TestPki } from '../helpers/pki.js';
import { newHeader } from '../../overlay/wire/header.js';

const node = (id: Id): Destination => ({ type: 'node', id });

function portOf(n: Node): number {
  return Number(/:(\d+)$/.exec(n.listenAddress!)![1]);
}

/** A hand-driven peer: sends crafted signed messages on a real TLS link and collects what comes back. */
class RawPeer {
  readonly received: WireMessage[] = [];
  private waiters: (() => void)[] = [];
  private constructor(
    readonly identity: Identity,
    readonly link: TlsLink,
    private readonly config: OverlayConfig,
  ) {
    link.on('message', (bytes) => {
      this.received.push(decodeMessage(bytes, config.maxMessageSize));
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async connect(pki: TestPki, config: OverlayConfig, target: Node, identity?: Identity): Promise<RawPeer> {
    identity ??= await pki.enroll();
    const link = await connectTls({
      host: '127.0.0.1',
      port: portOf(target),
      identity,
      trust: pki.trust,
      clock: systemClock,
      maxMessageBytes: config.maxMessageSize,
      queueLimit: 64,
      expectedNodeId: target.nodeId,
    });
    return new RawPeer(identity, link, config);
  }

  header(over: Partial<ForwardingHeader>): ForwardingHeader {
    return { ...newHeader(this.config, [], [node(this.identity.nodeId)]), ...over };
  }

  /** Sends a Ping with the given header fields and waits for the answer with its transaction id. */
  async ping(over: Partial<ForwardingHeader>, timeoutMs = 3000): Promise<WireMessage> {
    return this.request(over, MessageCode.PingReq, pingRequestBody(), timeoutMs);
  }

  /** Sends a request with the given header fields and waits for the answer with its transaction id. */
  async request(over: Partial<ForwardingHeader>, code: MessageCode, body: unknown, timeoutMs = 3000): Promise<WireMessage> {
    const header = this.header(over);
    const msg = signMessage(header, { code, body: encodeCbor(body), extensions: [] }, this.identity);
    expect(this.link.send(encodeMessage(msg))).to.equal(true);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const answer = this.received.find((m) => m.header.transactionId === header.transactionId);
      if (answer) return answer;
      if (Date.now() > deadline) throw new Error('no answer');
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  /** Verifies an answer as the origin would and returns its error code (or 0 for a success). */
  errorOf(answer: WireMessage, pki: TestPki): { code: number; info: string; signer: string } {
    const { contents, signer } = verifyMessage(answer, pki.trust, Date.now());
    if (contents.code !== MessageCode.Error) return { code: 0, info: '', signer: signer.identity.nodeIdHex };
    return { ...decodeErrorBody(contents.body), signer: signer.identity.nodeIdHex };
  }
}

describe('overlay/node over TLS', function () {
  this.timeout(30_000);
  let pki: TestPki;
  let config: OverlayConfig;
  const started: Node[] = [];
  const peers: RawPeer[] = [];

  async function startNode(bootstrap: Node[] = [], over: Partial<OverlayConfig> = {}): Promise<Node> {
    const n = new Node({
      config: { ...config, ...over },
      identity: await pki.enroll(),
      listen: { host: '127.0.0.1', port: 0 },
      bootstrap: bootstrap.map((b) => ({ host: '127.0.0.1', port: portOf(b) })),
    });
    started.push(n);
    await n.start();
    return n;
  }

  before(async () => {
    pki = await sharedPki();
    config = newOverlayConfig(TEST_OVERLAY, pki.ca.certPem);
  });

  afterEach(async () => {
    for (const p of peers.splice(0)) p.link.close();
    await Promise.all(started.splice(0).map((n) => n.stop()));
  });

  it('links to a bootstrap node over mutual TLS and pings in both directions', async () => {
    const a = await startNode();
    const b = await startNode([a]);
    expect(b.linkList().map((l) => l.remoteNodeIdHex)).to.deep.equal([a.nodeIdHex]);
    await waitFor(() => a.linkList().length === 1);
    expect(a.linkList()[0]!.remoteNodeIdHex).to.equal(b.nodeIdHex);
    const ab = await a.ping(b.nodeIdHex);
    const ba = await b.ping(a.nodeId);
    expect(ab).to.include({ hops: 1, responder: b.nodeIdHex });
    expect(ba).to.include({ hops: 1, responder: a.nodeIdHex });
    expect(ab.rttMs).to.be.at.least(0);
  });

  it('answers a ping to itself without a link', async () => {
    const a = await startNode();
    expect(await a.ping(a.nodeId)).to.include({ hops: 0, responder: a.nodeIdHex });
  });

  it('skips an unreachable bootstrap node and uses the next one', async () => {
    const a = await startNode();
    const dead = await startNode();
    const deadPort = portOf(dead);
    await dead.stop();
    const n = new Node({
      config,
      identity: await pki.enroll(),
      bootstrap: [{ host: '127.0.0.1', port: deadPort }, { host: '127.0.0.1', port: portOf(a) }],
    });
    started.push(n);
    await n.start();
    expect(n.linkList().map((l) => l.remoteNodeIdHex)).to.deep.equal([a.nodeIdHex]);
  });

  it('links to links.reachabilityPeers of its bootstrap nodes, not to all of them, and joins', async () => {
    const a = await startNode();
    const others = [a, await startNode([a]), await startNode([a]), await startNode([a])];
    const lines: string[] = [];
    const n = new Node({
      config,
      identity: await pki.enroll(),
      bootstrap: others.map((b) => ({ host: '127.0.0.1', port: portOf(b) })),
      logger: createLogger('node', (_level, _ns, msg) => lines.push(msg)),
    });
    started.push(n);
    await n.start();
    expect(config.links.reachabilityPeers).to.equal(2);
    expect(lines.filter((l) => l.startsWith('linked to bootstrap'))).to.have.length(2);
    expect(n.state).to.equal('joined');
  });

  it('fails with Not_Found at the origin when no route exists', async () => {
    const a = await startNode();
    const err = await rejected(a.ping(randomId()));
    expect(err.code).to.equal(ErrorCode.Not_Found);
    expect(err.reason).to.equal('no_route');
  });

  it('times out with Request_Timeout when the destination never answers', async () => {
    const a = await startNode();
    const silent = await RawPeer.connect(pki, config, a);
    peers.push(silent);
    await waitFor(() => a.linkList().length === 1);
    const err = await rejected(a.ping(silent.identity.nodeId, 300));
    expect(err.code).to.equal(ErrorCode.Request_Timeout);
    // The ping did arrive (perhaps with retransmissions); nobody answered it.
    expect(silent.received.length).to.be.at.least(1);
    expect(silent.received.every((m) => decodeContents(m.contentsBytes).code === MessageCode.PingReq)).to.equal(true);
  });

  it('a peer that links and stays silent gets a Ping halfway through the greeting timeout and loses its link at the end; one that speaks first gets none', async () => {
    // Long enough that the talker's first frame lands well inside half of it on a loaded machine.
    const greetingTimeoutMs = 3000;
    const a = await startNode([], { links: { ...config.links, greetingTimeoutMs } });
    const talker = await RawPeer.connect(pki, config, a);
    peers.push(talker);
    expect(talker.errorOf(await talker.ping({ destinations: [node(a.nodeId)] }), pki).code).to.equal(0);
    const dialled = Date.now(); // the node's timer starts after this, so it bounds the Ping from below
    const silent = await RawPeer.connect(pki, config, a);
    peers.push(silent);
    await waitFor(() => silent.received.length >= 1, 10_000, 'the greeting Ping');
    expect(Date.now() - dialled, 'not before half the timeout').to.be.at.least(greetingTimeoutMs / 2 - 50);
    expect(decodeContents(silent.received[0]!.contentsBytes).code).to.equal(MessageCode.PingReq);
    await waitFor(() => !silent.link.open, 5000, 'the silent link closed');
    expect(a.metrics.linkDropCount('silent')).to.equal(1);
    expect(talker.link.open).to.equal(true);
    expect(talker.received, 'the talker got its answer and no greeting').to.have.length(1);
  });

  it('a link from a peer whose Attach the node just answered is not greeted, even silent', async () => {
    const greetingTimeoutMs = 2000;
    const a = await startNode([], { links: { ...config.links, greetingTimeoutMs } });
    const attacher = await RawPeer.connect(pki, config, a);
    peers.push(attacher);
    const answer = await attacher.request({ destinations: [node(a.nodeId)] }, MessageCode.AttachReq, attachRequestBody([{ host: '127.0.0.1', port: 9 }]));
    expect(decodeContents(answer.contentsBytes).code).to.equal(MessageCode.AttachAns);
    // The link the Attach was for: same identity, dialled after the answer, and it says nothing
    // (the first goes first: a second link of one Node-ID is probed by a Ping of its own).
    attacher.link.close();
    await waitFor(() => a.linkList().length === 0);
    const second = await RawPeer.connect(pki, config, a, attacher.identity);
    peers.push(second);
    // A stranger linked after it is greeted; by then the expected link would have been too.
    const stranger = await RawPeer.connect(pki, config, a);
    peers.push(stranger);
    await waitFor(() => stranger.received.length >= 1, 10_000, "the stranger's greeting Ping");
    expect(second.received, 'no greeting Ping').to.have.length(0);
    expect(second.link.open).to.equal(true);
    await waitFor(() => !stranger.link.open, 10_000, 'the silent stranger dropped');
    expect(second.link.open).to.equal(true);
    expect(a.metrics.linkDropCount('silent')).to.equal(1);
    // The exemption is spent: a further silent link of the same peer is greeted and dropped.
    second.link.close();
    await waitFor(() => a.linkList().length === 0);
    const third = await RawPeer.connect(pki, config, a, attacher.identity);
    peers.push(third);
    await waitFor(() => !third.link.open, 10_000, 'the third link closed as silent');
    expect(decodeContents(third.received[0]!.contentsBytes).code).to.equal(MessageCode.PingReq);
    expect(a.metrics.linkDropCount('silent')).to.equal(2);
  });

  describe('bad input gets its error back at the origin, and the node keeps serving', () => {
    let a: Node;
    let c: Node;
    let peer: RawPeer;

    beforeEach(async () => {
      a = await startNode();
      c = await startNode([a]);
      peer = await RawPeer.connect(pki, config, a);
      peers.push(peer);
      await waitFor(() => a.linkList().length === 2);
    });

    afterEach(async () => {
      // Still serving: a normal request through the same node succeeds.
      const ok = peer.errorOf(await peer.ping({ destinations: [node(a.nodeId)] }), pki);
      expect(ok).to.deep.equal({ code: 0, info: '', signer: a.nodeIdHex });
      expect(await c.ping(a.nodeId)).to.include({ hops: 1 });
    });

    it('a forged via entry -> Forbidden', async () => {
      const answer = await peer.ping({ via: [node(peer.identity.nodeId), node(c.nodeId)], destinations: [node(a.nodeId)] });
      const e = peer.errorOf(answer, pki);
      expect(e.code).to.equal(ErrorCode.Forbidden);
      expect(e.info).to.match(/forged_via/);
      expect(e.signer).to.equal(a.nodeIdHex);
    });

    it('TTL 0 for a node further on -> TTL_Exceeded', async () => {
      const e = peer.errorOf(await peer.ping({ ttl: 0, destinations: [node(c.nodeId)] }), pki);
      expect(e.code).to.equal(ErrorCode.TTL_Exceeded);
    });

    it('TTL 1 still reaches the next node, which answers', async () => {
      const e = peer.errorOf(await peer.ping({ ttl: 1, destinations: [node(c.nodeId)] }), pki);
      expect(e).to.deep.equal({ code: 0, info: '', signer: c.nodeIdHex });
    });

    it('a routing loop (the node would route a message it routed before) -> Invalid_Message', async () => {
      // c owns its own id, so a must route towards it: a routing decision, not a direct hop.
      const via = [node(a.nodeId), node(peer.identity.nodeId)];
      const e = peer.errorOf(await peer.ping({ via, destinations: [{ type: 'resource', id: c.nodeId }] }), pki);
      expect(e.code).to.equal(ErrorCode.Invalid_Message);
      expect(e.info).to.match(/routing_loop/);
    });

    it('a destination that does not exist -> Not_Found', async () => {
      const e = peer.errorOf(await peer.ping({ destinations: [node(randomId())] }), pki);
      expect(e.code).to.equal(ErrorCode.Not_Found);
      expect(e.info).to.match(/no_route/);
    });

    it('a message for another overlay -> Incompatible_with_Overlay', async () => {
      const e = peer.errorOf(await peer.ping({ overlay: overlayHash('other.overlay'), destinations: [node(a.nodeId)] }), pki);
      expect(e.code).to.equal(ErrorCode.Incompatible_with_Overlay);
    });

    it('an older configuration sequence -> Config_Too_Old, a newer one -> Config_Too_New', async () => {
      const old = peer.errorOf(await peer.ping({ configSequence: config.sequence - 1, destinations: [node(a.nodeId)] }), pki);
      const fresh = peer.errorOf(await peer.ping({ configSequence: config.sequence + 1, destinations: [node(a.nodeId)] }), pki);
      expect(old.code).to.equal(ErrorCode.Config_Too_Old);
      expect(fresh.code).to.equal(ErrorCode.Config_Too_New);
    });

    it('a duplicate destination entry -> Invalid_Message', async () => {
      const e = peer.errorOf(await peer.ping({ destinations: [node(c.nodeId), node(c.nodeId)] }), pki);
      expect(e.code).to.equal(ErrorCode.Invalid_Message);
      expect(e.info).to.match(/duplicate_destination/);
    });

    it('a source route through the node reaches the next one: forwarding with a via list', async () => {
      const answer = await peer.ping({ destinations: [node(a.nodeId), node(c.nodeId)] });
      expect(peer.errorOf(answer, pki)).to.deep.equal({ code: 0, info: '', signer: c.nodeIdHex });
      expect(answer.header.via.map((v) => idToHex(v.id))).to.deep.equal([c.nodeIdHex, a.nodeIdHex]);
      expect(a.metrics.get('forwarded')).to.be.at.least(1);
    });

    it('an unknown method -> Invalid_Message naming it', async () => {
      const header = peer.header({ destinations: [node(a.nodeId)] });
      const msg = signMessage(header, { code: 0x4001, body: encodeCbor(null), extensions: [] }, peer.identity);
      peer.link.send(encodeMessage(msg));
      await waitFor(() => peer.received.some((m) => m.header.transactionId === header.transactionId));
      const e = peer.errorOf(peer.received.find((m) => m.header.transactionId === header.transactionId)!, pki);
      expect(e.code).to.equal(ErrorCode.Invalid_Message);
      expect(e.info).to.match(/unknown_method/);
    });

    it('a message with a broken signature is dropped unanswered and counted', async () => {
      const header = peer.header({ destinations: [node(a.nodeId)] });
      const msg = signMessage(header, { code: MessageCode.PingReq, body: encodeCbor(pingRequestBody()), extensions: [] }, peer.identity);
      const tampered = { ...msg, contentsBytes: encodeCbor(['tampered']) };
      const before = a.metrics.errorCount(ErrorCode.Forbidden, 'unverified');
      peer.link.send(encodeMessage(tampered));
      await waitFor(() => a.metrics.errorCount(ErrorCode.Forbidden, 'unverified') === before + 1);
      expect(peer.received.some((m) => m.header.transactionId === header.transactionId)).to.equal(false);
    });

    it('garbage bytes are dropped and counted; the link stays up', async () => {
      const before = a.metrics.errorCount(ErrorCode.Invalid_Message, 'dropped');
      peer.link.send(Uint8Array.from([0xff, 0x00, 0x13, 0x37]));
      await waitFor(() => a.metrics.errorCount(ErrorCode.Invalid_Message, 'dropped') === before + 1);
      expect(peer.link.open).to.equal(true);
    });
  });
});

async function rejected(p: Promise<unknown>): Promise<ReloadError> {
  const e = await rejection(p);
  expect(e).to.be.instanceOf(ReloadError);
  return e as ReloadError;
}
