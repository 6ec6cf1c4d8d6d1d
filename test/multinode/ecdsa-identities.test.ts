/**
 * ECDSA P-256 identities beside RSA ones in one overlay over real TLS: each node signs TLS
 * handshakes, messages and values with its own key's algorithm, and every node verifies both.
 */
import { expect } from 'chai';
import type { KeyAlgorithm } from '../../certs/ca.js';
import { nodeMultipleResource } from '../../overlay/storage/access-control.js';
import { allPairsPing } from '../helpers/ping.js';
import { sharedPki } from '../helpers/pki.js';
import { settleNodes } from '../helpers/settle.js';
import { startTestnet, type Testnet } from '../helpers/testnet.js';

const KIND = { id: 0xf0000103, name: 'test-mixed-keys', dataModel: 'single' as const, accessControl: 'NODE-MULTIPLE' as const, maxCount: 1, maxSize: 64, maxNodeMultiple: 2 };

describe('an overlay of ECDSA P-256 and RSA identities over TLS', function () {
  this.timeout(120_000);
  let net: Testnet;

  before(async () => {
    const pki = await sharedPki();
    const identities = await Promise.all(['ecdsa', 'rsa', 'ecdsa', 'rsa', 'ecdsa'].map((key) => pki.enroll(undefined, { key: key as KeyAlgorithm })));
    net = await startTestnet(identities.length, { identities, kinds: [KIND] });
    await settleNodes(net.nodes);
  });

  after(async () => net && (await net.stopAll()));

  it('every pair pings across key types; each node signs with its own algorithm', async () => {
    expect(net.nodes.map((n) => n.identity.algorithm)).to.deep.equal(['ecdsa-sha256', 'rsa-sha256', 'ecdsa-sha256', 'rsa-sha256', 'ecdsa-sha256']);
    expect(await allPairsPing(net.nodes)).to.deep.equal([]);
  });

  it('values signed by either key type are stored and fetched by the other', async () => {
    for (const [writer, reader] of [[0, 1], [1, 2]] as const) {
      const w = net.nodes[writer]!;
      const at = nodeMultipleResource(w.nodeId, 1, net.config.hash);
      await w.storage.store(KIND.name, at, { model: 'single', value: { exists: true, value: Buffer.from(`from ${writer}`) } });
      const got = await net.nodes[reader]!.storage.fetch(KIND.name, at);
      expect(got.values.map((v) => [Buffer.from(v.data.value.value.value).toString(), v.signer.identity.nodeIdHex, v.signer.publicKey.asymmetricKeyType])).to.deep.equal([[`from ${writer}`, w.nodeIdHex, writer === 0 ? 'ec' : 'rsa']]);
    }
  });
});
