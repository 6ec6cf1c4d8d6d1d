import { ringStatus } from '../helpers/ring-check.js';
import { expect } from 'chai';
import { ErrorCode, ReloadError } from '../../overlay/errors.js';
import { idFromHex, idToHex, resourceIdOf, type Id } from '../../overlay/id.js';
import { nodeMultipleResource } from '../../overlay/storage/access-control.js';
import { encodeStoreReq } from '../../overlay/storage/codec.js';
import { EncodedBody } from '../../overlay/wire/body.js';
import { MessageCode } from '../../overlay/wire/codes.js';
import { fuzzSeed, printReplayOnFailure, Prng } from '../helpers/prng.js';
import { rejection } from '../helpers/rejection.js';
import { RingTruth, startTestnet, type Testnet } from '../helpers/testnet.js';
import { settleNodes } from '../helpers/settle.js';
import { waitFor } from '../helpers/wait.js';

const PEERS = 32;
const VALUES = 1000;
const REPLICAS = 3;
/** NODE-MULTIPLE: node n may store at H(n ‖ i), i = 1..64, so 32 nodes cover 1,000+ resources with 32 keys. */
const MULTI = { id: 0xf0000100, name: 'test-multi', dataModel: 'single' as const, accessControl: 'NODE-MULTIPLE' as const, maxCount: 1, maxSize: 1024, maxNodeMultiple: 64 };

interface Placed {
  resource: Id;
  bytes: Buffer;
  storer: string;
}

describe(`storage: ${VALUES} values on ${PEERS} peers over TLS`, function () {
  this.timeout(600_000);
  const seed = fuzzSeed();
  printReplayOnFailure(seed, import.meta.url);
  const rng = new Prng(seed);
  let net: Testnet;
  const placed: Placed[] = [];
  const live = () => net.nodes.filter((n) => n.state === 'joined');
  /** Repair bound from the config: detection and stabilization rounds, then replica sync rounds. */
  // Generous, because the suite may share two cores with other work; waitFor returns as soon as it holds.
  const repairBoundMs = () => 20 * net.config.chord.updateIntervalMs + 20 * net.config.storage.syncIntervalMs + net.config.chord.neighbourTimeoutMs;

  /** Values whose holders differ from the ground-truth replica set of the live ring. */
  function misplaced(): string[] {
    const nodes = live();
    const truth = new RingTruth(nodes.map((n) => n.nodeId));
    const held = new Map(nodes.map((n) => [n.nodeIdHex, new Set(n.storage!.engine.resources().map(idToHex))]));
    return placed.flatMap((p) => {
      const want = truth.replicaSet(p.resource, REPLICAS).sort();
      const have = nodes.filter((n) => held.get(n.nodeIdHex)!.has(idToHex(p.resource))).map((n) => n.nodeIdHex).sort();
      return JSON.stringify(want) === JSON.stringify(have) ? [] : [`${idToHex(p.resource)}: held by ${have.map((h) => h.slice(0, 8))}, should be ${want.map((h) => h.slice(0, 8))}`];
    });
  }

  /** Fetches every value from a random node (not its storer) and compares bytes and signer. */
  async function unfetchable(): Promise<string[]> {
    const nodes = live();
    const failures: string[] = [];
    for (let i = 0; i < placed.length; i += 25) {
      await Promise.all(
        placed.slice(i, i + 25).map(async (p) => {
          const others = nodes.filter((n) => n.nodeIdHex !== p.storer);
          const from = rng.pick(others);
          try {
            const r = await from.storage!.fetch(MULTI.name, p.resource);
            const v = r.values[0];
            if (r.values.length !== 1 || r.rejected !== 0 || !v) failures.push(`${idToHex(p.resource)}: ${r.values.length} values, ${r.rejected} rejected`);
            else if (!Buffer.from(v.data.value.value.value).equals(p.bytes)) failures.push(`${idToHex(p.resource)}: bytes differ`);
            else if (v.signer.identity.nodeIdHex !== p.storer) failures.push(`${idToHex(p.resource)}: signed by ${v.signer.identity.nodeIdHex}`);
          } catch (e) {
            failures.push(`${idToHex(p.resource)} from ${from.nodeIdHex.slice(0, 8)}: ${(e as Error).message}`);
          }
        }),
      );
    }
    return failures;
  }

  async function repaired(what: string): Promise<void> {
    await waitFor(() => misplaced().length === 0, repairBoundMs(), what).catch((e: Error) => {
      throw new Error(`${e.message} (seed ${seed}):\n${misplaced().slice(0, 10).join('\n')}`);
    });
  }

  before(async () => {
    net = await startTestnet(PEERS, { batch: 4, kinds: [MULTI], storage: { replicas: REPLICAS } });
    await settleNodes(live(), 30_000);
  });

  after(async () => net && (await net.stopAll()));

  it(`${VALUES} values stored from random nodes are fetched from random other nodes, byte-identical with valid signatures`, async () => {
    const next = new Map<string, number>();
    for (let i = 0; i < VALUES; i += 20) {
      await Promise.all(
        Array.from({ length: Math.min(20, VALUES - i) }, async () => {
          const storer = rng.pick(net.nodes);
          const k = (next.get(storer.nodeIdHex) ?? 0) + 1;
          if (k > MULTI.maxNodeMultiple) return;
          next.set(storer.nodeIdHex, k);
          const resource = nodeMultipleResource(storer.nodeId, k, net.config.hash);
          const bytes = Buffer.from(rng.bytes(32 + rng.int(400)));
          const r = await storer.storage!.store(MULTI.name, resource, { model: 'single', value: { exists: true, value: bytes } });
          expect(r.generation).to.equal(1n);
          expect(r.replicas, 'replicas confirmed by the responsible peer').to.have.length(REPLICAS - 1);
          placed.push({ resource, bytes, storer: storer.nodeIdHex });
        }),
      );
    }
    expect(placed.length).to.be.greaterThan(VALUES * 0.9);
    expect(await unfetchable(), `seed ${seed}`).to.deep.equal([]);
  });

  it('each value is held by exactly the replica set the ground truth computes', async () => {
    await repaired('replica sets');
  });

  it('kill 2 of 3 consecutive peers, one after another with repair time between: nothing is lost', async () => {
    const truth = new RingTruth(live().map((n) => n.nodeId));
    const first = rng.pick(live());
    const [second] = truth.successors(first.nodeId, 1);
    for (const victim of [first.nodeIdHex, second!]) {
      await net.nodes.find((n) => n.nodeIdHex === victim)!.stop({ leave: false });
      await repaired(`replicas restored after ${victim.slice(0, 8)} died`);
    }
    expect(await unfetchable(), `seed ${seed}`).to.deep.equal([]);
  });

  it('then 8 random peers killed abruptly, each after the repair of the last: every value still fetchable, full replica count', async () => {
    for (let k = 0; k < 8; k++) {
      await rng.pick(live()).stop({ leave: false });
      await repaired(`replicas restored after kill ${k + 1}`);
    }
    expect(live()).to.have.length(PEERS - 10);
    expect(await unfetchable(), `seed ${seed}`).to.deep.equal([]);
  });

  it('then 4 more killed at the same moment: every value with a surviving copy is fetchable and back to full count', async () => {
    const nodes = live();
    const truth = new RingTruth(nodes.map((n) => n.nodeId));
    const victims = [...nodes].sort(() => rng.next() - 0x80000000).slice(0, 4);
    const dead = new Set(victims.map((v) => v.nodeIdHex));
    // Ground truth of loss: a value is gone only if its whole replica set died together.
    const lost = placed.filter((p) => truth.replicaSet(p.resource, REPLICAS).every((h) => dead.has(h)));
    await Promise.all(victims.map((v) => v.stop({ leave: false })));
    placed.splice(0, placed.length, ...placed.filter((p) => !lost.includes(p)));
    await repaired('replicas restored after 4 simultaneous kills');
    expect(await unfetchable(), `seed ${seed}`).to.deep.equal([]);
    console.log(`      (${lost.length} values had all ${REPLICAS} copies on the 4 killed peers)`);
  });

  describe('access control', () => {
    it('a USER-MATCH value cannot be overwritten or deleted by another user', async () => {
      const [owner, other] = live();
      const resource = resourceIdOf(owner!.identity.user, net.config.hash);
      await owner!.storage!.store('user-value', resource, { model: 'single', value: { exists: true, value: Buffer.from('mine') } });
      for (const value of [{ exists: true, value: Buffer.from('yours now') }, { exists: false, value: new Uint8Array(0) }]) {
        const e = await rejection<ReloadError>(other!.storage!.store('user-value', resource, { model: 'single', value }));
        expect(e.code).to.equal(ErrorCode.Forbidden);
      }
      const after = await other!.storage!.fetch('user-value', resource);
      expect(Buffer.from(after.values[0]!.data.value.value.value).toString()).to.equal('mine');
      expect(after.values[0]!.signer.identity.user).to.equal(owner!.identity.user);
    });

    it('a replica pushed by a peer that is not in the replica set is refused', async () => {
      const nodes = live();
      const truth = new RingTruth(nodes.map((n) => n.nodeId));
      const p = placed[0]!;
      const set = truth.replicaSet(p.resource, REPLICAS);
      const holder = nodes.find((n) => n.nodeIdHex === set[1])!;
      const outsider = nodes.find((n) => !set.includes(n.nodeIdHex) && !ringStatus(n).successors.concat(ringStatus(n).predecessors).some((x) => set.includes(x)))!;
      const source = nodes.find((n) => n.nodeIdHex === set[0])!;
      const copy = source.storage!.engine.exportResource(p.resource, 1)!;
      const forged = { ...copy, kinds: copy.kinds.map((k) => ({ ...k, generation: k.generation + 100n })) };
      const e = await rejection<ReloadError>(outsider.request([{ type: 'node', id: holder.nodeId }], MessageCode.StoreReq, new EncodedBody(encodeStoreReq(forged))));
      expect(e.code).to.equal(ErrorCode.Forbidden);
      expect(e.reason).to.equal('not_a_replica_source');
      expect(holder.storage!.engine.fetch(p.resource, [{ kindId: MULTI.id, generation: 0n, selector: { model: 'single' } }]).kinds[0]!.generation).to.equal(1n);
    });

    it('a value whose signature was altered on a storing peer is refused by the fetcher', async () => {
      const nodes = live();
      const p = placed[1]!;
      const truth = new RingTruth(nodes.map((n) => n.nodeId));
      const holders = truth.replicaSet(p.resource, REPLICAS).map((h) => nodes.find((n) => n.nodeIdHex === h)!);
      // Every holder turns malicious for this resource: its engine serves the value with one byte altered.
      const honest = holders.map((h) => h.storage!.engine.fetch.bind(h.storage!.engine));
      holders.forEach((h, i) => {
        h.storage!.engine.fetch = (resource, specs) => {
          const answer = honest[i]!(resource, specs);
          if (idToHex(resource) !== idToHex(p.resource)) return answer;
          for (const k of answer.kinds) for (const v of k.values) v.value.value.value = Uint8Array.from(v.value.value.value, (b, j) => (j === 0 ? b ^ 0xff : b));
          return answer;
        };
      });
      try {
        const fetcher = nodes.find((n) => !holders.includes(n))!;
        const e = await rejection<ReloadError>(fetcher.storage!.fetch(MULTI.name, p.resource));
        expect(e.code).to.equal(ErrorCode.Forbidden);
        expect(e.reason).to.equal('bad_data_signature');
      } finally {
        holders.forEach((h, i) => (h.storage!.engine.fetch = honest[i]!));
      }
    });
  });

  describe('bad input end to end: an error each, nothing stored changes', () => {
    it('over-size value, unknown kind, wrong data model, stale generation', async () => {
      const node = live()[0]!;
      const p = placed.find((x) => x.storer === node.nodeIdHex)!;
      const before = await node.storage!.fetch(MULTI.name, p.resource);
      const big = { model: 'single' as const, value: { exists: true, value: new Uint8Array(MULTI.maxSize + 1) } };
      expect((await rejection<ReloadError>(node.storage!.store(MULTI.name, p.resource, big))).code).to.equal(ErrorCode.Data_Too_Large);
      expect((await rejection<ReloadError>(node.storage!.store('no-such-kind', p.resource, big))).code).to.equal(ErrorCode.Unknown_Kind);
      const asArray = { model: 'array' as const, index: 0, value: { exists: true, value: Buffer.from('x') } };
      expect((await rejection<ReloadError>(node.storage!.store(MULTI.name, p.resource, asArray))).code).to.equal(ErrorCode.Invalid_Message);
      const stale = { model: 'single' as const, value: { exists: true, value: Buffer.from('stale') } };
      const gen = await rejection<ReloadError>(node.storage!.store(MULTI.name, p.resource, stale, { generation: before.generation + 5n }));
      expect(gen.code).to.equal(ErrorCode.Generation_Counter_Too_Low);
      const after = await node.storage!.fetch(MULTI.name, p.resource);
      expect(after.generation).to.equal(before.generation);
      expect(Buffer.from(after.values[0]!.data.value.value.value).equals(p.bytes)).to.equal(true);
      expect(idFromHex(after.values[0]!.signer.identity.nodeIdHex)).to.deep.equal(node.nodeId);
    });
  });
});

