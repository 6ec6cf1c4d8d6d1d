/**
 * The overlay's multi-node assertions on a virtual clock: the same Node code over memory links
 * (20 ms each way), with time moved by the test, so that maintenance intervals cost no wall time.
 * Join to the ground truth, all-pairs ping, routing to the responsible node, repair after abrupt
 * failures, and values that outlive 2 of their 3 holders (a value whose 3 holders all die is not expected back).
 */
import { expect } from 'chai';
import type { VirtualClock } from '../../overlay/clock.js';
import { idToHex, randomId } from '../../overlay/id.js';
import { nodeMultipleResource } from '../../overlay/storage/access-control.js';
import { allPairsPing } from '../helpers/ping.js';
import { wrongNeighbours } from '../helpers/ring-check.js';
import { waitForVirtual } from '../helpers/wait.js';
import { RingTruth, startVirtualTestnet, type Testnet } from '../helpers/testnet.js';

const PEERS = 24;
const KILLED = 6;
const VALUE_KIND = { id: 0xf0000101, name: 'test-virtual', dataModel: 'single' as const, accessControl: 'NODE-MULTIPLE' as const, maxCount: 1, maxSize: 1024, maxNodeMultiple: 16 };

describe(`the overlay on a virtual clock: ${PEERS} peers over memory links`, function () {
  this.timeout(120_000);
  let clock: VirtualClock;
  let net: Testnet;
  const within = (limitMs: number, what: string, done: () => boolean) => waitForVirtual(clock, done, limitMs, what);
  const k = () => net.config.chord.neighbourCount;

  before(async () => {
    ({ clock, net } = await startVirtualTestnet(PEERS, { kinds: [VALUE_KIND], storage: { replicas: 3 } }));
  });

  after(async () => net && (await clock.until(net.stopAll(), 30_000)));

  it('joins; every neighbour table equals the ground truth; all pairs ping; 300 Resource-IDs route to their owner', async () => {
    await within(30_000, 'neighbour tables', () => wrongNeighbours(net.nodes, k()).length === 0);
    expect(await clock.until(allPairsPing(net.nodes), 120_000)).to.deep.equal([]);
    const truth = new RingTruth(net.nodes.map((n) => n.nodeId));
    for (let i = 0; i < 300; i++) {
      const key = randomId();
      const r = await clock.until(net.nodes[i % PEERS]!.route(key), 10_000);
      expect(r.responsible, idToHex(key)).to.equal(truth.responsible(key));
    }
  });

  it(`stores 48 values; ${KILLED} peers killed abruptly, 2 of 3 holders of a value among them: tables repair and every value with a surviving holder is fetched`, async () => {
    const stored = await clock.until(
      Promise.all(
        Array.from({ length: 48 }, async (_, i) => {
          const node = net.nodes[i % PEERS]!;
          const at = nodeMultipleResource(node.nodeId, 1 + Math.floor(i / PEERS), net.config.hash);
          const bytes = Buffer.from(`value ${i}`);
          await node.storage.store(VALUE_KIND.name, at, { model: 'single', value: { exists: true, value: bytes } });
          return { at, bytes };
        }),
      ),
      60_000,
    );
    // Two consecutive holders of the first value's replica set, and others outside that set (the
    // third holder lives: a value whose three holders all die is gone, as it should be).
    const truth = new RingTruth(net.nodes.map((n) => n.nodeId));
    const set = truth.replicaSet(stored[0]!.at, 3);
    const holders = set.slice(0, 2);
    const victims = [...net.nodes.filter((n) => holders.includes(n.nodeIdHex)), ...net.nodes.filter((n) => !set.includes(n.nodeIdHex)).slice(0, KILLED - 2)];
    await clock.until(Promise.all(victims.map((v) => v.stop({ leave: false }))), 10_000);
    const survivors = net.nodes.filter((n) => !victims.includes(n));
    await within(60_000, 'repaired neighbour tables', () => wrongNeighbours(survivors, k()).length === 0);
    expect(await clock.until(allPairsPing(survivors), 120_000)).to.deep.equal([]);
    // A value whose three holders were all among the killed is gone, as it should be; every other must be here.
    const dead = new Set(victims.map((v) => v.nodeIdHex));
    const kept = stored.filter((v) => truth.replicaSet(v.at, 3).some((h) => !dead.has(h)));
    expect(kept, 'the first value kept its third holder').to.include(stored[0]);
    for (const [i, v] of kept.entries()) {
      const got = await clock.until(survivors[i % survivors.length]!.storage.fetch(VALUE_KIND.name, v.at), 10_000);
      expect(got.values.map((x) => Buffer.from(x.data.value.value.value).toString()), idToHex(v.at)).to.deep.equal([v.bytes.toString()]);
    }
    net.nodes.splice(0, net.nodes.length, ...survivors);
  });
});
