import { expect } from 'chai';
import { resourceIdOf } from '../../overlay/id.js';
import { RingTruth, startTestnet, type Testnet } from '../helpers/testnet.js';
import { waitFor } from '../helpers/wait.js';

describe('storage: updates reach every replica', function () {
  this.timeout(60_000);
  let net: Testnet;
  after(async () => net && (await net.stopAll()));

  it('an overwrite and then a delete reach all replicas; after the responsible peer dies the latest state is served', async () => {
    net = await startTestnet(6, { batch: 3 });
    const owner = net.nodes[2]!;
    const resource = resourceIdOf(owner.identity.user, net.config.hash);
    // The same resource already holds this user's certificate-by-user entry: the value store is an update of it.
    await waitFor(() => owner.certificateStored, 20_000, 'certificate stored');
    const truth = new RingTruth(net.nodes.map((n) => n.nodeId));
    const holders = truth.replicaSet(resource, net.config.storage.replicas).map((h) => net.nodes.find((n) => n.nodeIdHex === h)!);
    const heldText = () =>
      holders.map((h) => {
        const v = h.storage.engine.fetch(resource, [{ kindId: owner.kinds.resolve('user-value').id, generation: 0n, selector: { model: 'single' } }]).kinds[0]?.values[0];
        return v ? (v.value.value.exists ? Buffer.from(v.value.value.value).toString() : '<deleted>') : '<none>';
      });
    for (const text of ['first', 'second']) {
      const r = await owner.storage.store('user-value', resource, { model: 'single', value: { exists: true, value: Buffer.from(text) } });
      expect(r.replicas).to.have.length(net.config.storage.replicas - 1);
      expect(heldText(), text).to.deep.equal(holders.map(() => text));
    }
    await owner.storage.store('user-value', resource, { model: 'single', value: { exists: false, value: new Uint8Array(0) } });
    expect(heldText()).to.deep.equal(holders.map(() => '<deleted>'));
    await owner.storage.store('user-value', resource, { model: 'single', value: { exists: true, value: Buffer.from('third') } });
    await holders[0]!.stop({ leave: false });
    const reader = net.nodes.find((n) => n.state === 'joined' && n !== owner)!;
    const fetched = await reader.storage.fetch('user-value', resource);
    expect(fetched.values.map((v) => Buffer.from(v.data.value.value.value).toString())).to.deep.equal(['third']);
  });
});
