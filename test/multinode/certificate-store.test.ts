import { expect } from 'chai';
import { fingerprintOf } from '../../certs/trust.js';
import { nodeResource } from '../../overlay/storage/access-control.js';
import { CERTIFICATE_BY_NODE } from '../../overlay/storage/kinds.js';
import { settleNodes } from '../helpers/settle.js';
import { startTestnet, type Testnet } from '../helpers/testnet.js';
import { waitFor } from '../helpers/wait.js';

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
