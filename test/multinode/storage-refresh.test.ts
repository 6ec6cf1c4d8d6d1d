/**
 * A node re-stores what it stored itself before the value expires. A delete (or a new value) must
 * win over a refresh of the old value that the timer starts while the delete is still in flight:
 * the refresh is signed later, so if it went out, the responsible peer would keep the old value.
 * Memory links with a slow path and a virtual clock put the refresh timer inside that window.
 */
import { expect } from 'chai';
import type { VirtualClock } from '../../overlay/clock.js';
import { nodeMultipleResource } from '../../overlay/storage/access-control.js';
import { REFRESH_AT } from '../../overlay/storage/storage-service.js';
import { startVirtualTestnet, type Testnet } from '../helpers/testnet.js';

const KIND = { id: 0xf0000102, name: 'test-refresh', dataModel: 'single' as const, accessControl: 'NODE-MULTIPLE' as const, maxCount: 1, maxSize: 64, maxNodeMultiple: 4 };
const LIFETIME_SEC = 4;
const LATENCY_MS = 400;
const SYNC_MS = 100;

describe('storage: refreshing what a node stored while it replaces it', function () {
  this.timeout(60_000);
  let clock: VirtualClock;
  let net: Testnet;

  before(async () => {
    ({ clock, net } = await startVirtualTestnet(3, { latencyMs: LATENCY_MS, kinds: [KIND], storage: { syncIntervalMs: SYNC_MS, replicas: 1 } }));
  });

  after(async () => net && (await clock.until(net.stopAll(), 30_000)));

  it('does not bring the deleted value back', async () => {
    const owner = net.nodes[0]!;
    const at = nodeMultipleResource(owner.nodeId, 1, net.config.hash);
    await clock.until(owner.storage.store(KIND.name, at, { model: 'single', value: { exists: true, value: Buffer.from('old') } }, { lifetimeSec: LIFETIME_SEC }), 10_000);
    // The delete leaves just before the refresh is due and is answered at least two path delays later.
    await clock.run(LIFETIME_SEC * 1000 * REFRESH_AT - 2 * SYNC_MS);
    await clock.until(owner.storage.store(KIND.name, at, { model: 'single', value: { exists: false, value: new Uint8Array(0) } }, { lifetimeSec: LIFETIME_SEC }), 10_000);
    // Past the refresh's time, within the tombstone's lifetime.
    await clock.run(1000);
    const reader = net.nodes[1]!;
    const got = await clock.until(reader.storage.fetch(KIND.name, at), 10_000);
    expect(got.values.map((v) => v.data.value.value.exists)).to.deep.equal([false]);
  });

  it('keeps refreshing the old value when the store meant to replace it is refused', async () => {
    const owner = net.nodes[0]!;
    const at = nodeMultipleResource(owner.nodeId, 2, net.config.hash);
    await clock.until(owner.storage.store(KIND.name, at, { model: 'single', value: { exists: true, value: Buffer.from('kept') } }, { lifetimeSec: LIFETIME_SEC }), 10_000);
    const tooLarge = Buffer.alloc(KIND.maxSize + 1);
    const refused = await clock.until(owner.storage.store(KIND.name, at, { model: 'single', value: { exists: true, value: tooLarge } }, { lifetimeSec: LIFETIME_SEC }).then(() => 'stored', (e: Error) => e.message), 10_000);
    expect(refused).to.not.equal('stored');
    await clock.run(3 * LIFETIME_SEC * 1000);
    const got = await clock.until(net.nodes[1]!.storage.fetch(KIND.name, at), 10_000);
    expect(got.values.map((v) => Buffer.from(v.data.value.value.value).toString())).to.deep.equal(['kept']);
  });
});
