import { expect } from 'chai';
import type { Identity } from '../../certs/identity.js';
import { fingerprintOf } from '../../certs/trust.js';
import type { VirtualClock } from '../../overlay/clock.js';
import { ErrorCode, ReloadError } from '../../overlay/errors.js';
import type { Node } from '../../overlay/node.js';
import { nodeResource } from '../../overlay/storage/access-control.js';
import { CERTIFICATE_BY_NODE } from '../../overlay/storage/kinds.js';
import { settleNodes } from '../helpers/settle.js';
import { RingTruth, startTestnet, startVirtualTestnet, type Testnet } from '../helpers/testnet.js';
import { waitFor, waitForVirtual } from '../helpers/wait.js';

describe('the certificate store (RFC 6940 §8) over TLS', function () {
  this.timeout(120_000);
  let net: Testnet;

  before(async () => {
    net = await startTestnet(20, { batch: 5, certificateReferences: true });
    await settleNodes(net.nodes);
    await waitFor(() => net.nodes.every((n) => n.certificateStored), 20_000, 'certificates stored');
  });

  after(async () => net && (await net.stopAll()));

  it('every node stores its certificate at H(Node-ID); the stored one is its own', async () => {
    for (const n of net.nodes) {
      const r = await net.nodes[0]!.storage.fetch(CERTIFICATE_BY_NODE.name, nodeResource(n.nodeId, net.config.hash));
      expect(r.values).to.have.length(1);
      expect(Buffer.from(r.values[0]!.data.value.value.value).equals(n.identity.certDer)).to.equal(true);
      expect(r.values[0]!.signer.identity.nodeIdHex).to.equal(n.nodeIdHex);
    }
  });

  it('requests that carry only a reference to their signer\'s certificate are verified after a lookup', async () => {
    // A newcomer: most nodes have never seen its certificate, in a message or a TLS handshake.
    const newcomer = await net.add();
    await waitFor(() => newcomer.certificateStored, 20_000, 'newcomer certificate stored');
    const fingerprint = fingerprintOf(newcomer.identity.certDer);
    const strangers = net.nodes.filter((n) => n !== newcomer && !n.knowsCertificate(fingerprint));
    expect(strangers.length, 'nodes that never saw the newcomer\'s certificate').to.be.greaterThan(0);
    const before = strangers.reduce((sum, n) => sum + n.certificatesFetched, 0);
    for (const b of strangers) expect((await newcomer.ping(b.nodeId)).responder).to.equal(b.nodeIdHex);
    // The pings carried no certificate: each stranger found it in the certificate store (or, if the
    // newcomer linked to it meanwhile, in the TLS handshake) and now knows it. (Strangers may look
    // up other nodes' certificates meanwhile too, so the count has no upper bound here.)
    expect(strangers.every((n) => n.knowsCertificate(fingerprint))).to.equal(true);
    expect(strangers.reduce((sum, n) => sum + n.certificatesFetched, 0) - before).to.be.at.least(1);
  });
});

describe('certificate-store lookups and retries (memory links, virtual clock)', function () {
  this.timeout(120_000);
  const PEERS = 24;
  let clock: VirtualClock;
  let net: Testnet;
  let newcomer: Node;
  let refusedStores = 0;

  before(async () => {
    // Hour-long maintenance rounds: after the joins, the only traffic is what the test sends.
    const hour = 3_600_000;
    let spares: Identity[];
    ({ clock, net, spares } = await startVirtualTestnet(PEERS, {
      certificateReferences: true,
      chord: { updateIntervalMs: hour, fingerIntervalMs: hour },
      storage: { syncIntervalMs: hour },
      spares: 1,
      // The newcomer's first store times out, as one may while the ring settles after a join.
      beforeStart: (node, index) => {
        if (index !== PEERS) return;
        const store = node.storage.store.bind(node.storage);
        node.storage.store = (...args) => (refusedStores++ === 0 ? Promise.reject(new ReloadError(ErrorCode.Request_Timeout, 'injected timeout')) : store(...args));
      },
    }));
    await waitForVirtual(clock, () => net.nodes.every((n) => n.certificateStored), 30_000, 'certificates stored');
    newcomer = await clock.until(net.add(net.nodes[3], spares[0]), 60_000);
  });

  after(async () => net && (await clock.until(net.stopAll(), 30_000)));

  it('a node whose certificate store failed tries again until the certificate is stored', async () => {
    await waitForVirtual(clock, () => newcomer.certificateStored, 30_000, 'newcomer certificate stored');
    expect(refusedStores, 'stores tried').to.be.at.least(2);
    const r = await clock.until(net.nodes[0]!.storage.fetch(CERTIFICATE_BY_NODE.name, nodeResource(newcomer.nodeId, net.config.hash)), 30_000);
    expect(r.values.map((v) => Buffer.from(v.data.value.value.value).equals(newcomer.identity.certDer))).to.deep.equal([true]);
  });

  it('the node holding a certificate answers lookups of it without looking up the askers\' certificates', async () => {
    await clock.run(5_000);
    const truth = new RingTruth(net.nodes.map((n) => n.nodeId));
    const knows = (n: Node, of: Node) => n.knowsCertificate(fingerprintOf(of.identity.certDer));
    // For each node, the holder of its certificate and the nodes that never saw it: pick the node
    // whose strangers include the most the holder never saw either (without the asker's
    // certificate in its lookup, the holder would have to look those up first).
    const cases = net.nodes.map((signer) => {
      const holder = net.nodes.find((n) => n.nodeIdHex === truth.responsible(nodeResource(signer.nodeId, net.config.hash)))!;
      const strangers = net.nodes.filter((n) => n !== signer && n !== holder && !knows(n, signer));
      return { signer, holder, strangers, unknownToHolder: strangers.filter((s) => !knows(holder, s)).length };
    });
    const { signer, holder, strangers, unknownToHolder } = cases.reduce((a, b) => (b.unknownToHolder > a.unknownToHolder ? b : a));
    expect(unknownToHolder, 'strangers whose certificate the holder lacks').to.be.greaterThan(0);
    const holderFetched = holder.certificatesFetched;
    for (const s of strangers) expect((await clock.until(signer.ping(s.nodeId), 30_000)).responder).to.equal(s.nodeIdHex);
    expect(strangers.every((s) => knows(s, signer))).to.equal(true);
    expect(holder.certificatesFetched).to.equal(holderFetched);
  });
});
