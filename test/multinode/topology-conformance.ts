/**
 * One conformance suite for every topology plugin (issue 15), run over memory links on a virtual
 * clock and over TLS between `reload-ppsp node` processes: join to the ground truth (Chord's
 * successor and predecessor lists, Kademlia's XOR-closest siblings), all-pairs ping, routing to
 * the node the ground truth holds responsible, access control, and repair after abrupt failures
 * with every value that kept a holder fetched (2 of 3 holders of one value among the killed).
 * The ground truth comes from the Node-IDs alone (scripts/topology-truth.ts), never from what the
 * nodes say of each other.
 */
import { expect } from 'chai';
import type { KindConfig, OverlayConfig } from '../../overlay/config.js';
import { idFromHex, idToHex, type Id } from '../../overlay/id.js';
import { nodeMultipleResource } from '../../overlay/storage/access-control.js';
import { neighbourCount, topologyTruth, type NeighbourView } from '../../scripts/topology-truth.js';
import { fuzzSeed, printReplayOnFailure, Prng } from '../helpers/prng.js';

/** The kind the suite stores: NODE-MULTIPLE, so each node owns its own slots and no other's. */
export const CONFORMANCE_KIND: KindConfig = { id: 0xf0000151, name: 'conformance', dataModel: 'single', accessControl: 'NODE-MULTIPLE', maxCount: 1, maxSize: 1024, maxNodeMultiple: 16 };

/** What the suite needs of a running overlay, whatever carries it (in-process nodes, processes). */
export interface ConformanceNet {
  readonly config: OverlayConfig;
  /** The live nodes (hex Node-IDs). */
  ids(): string[];
  /** What each live node says of its neighbourhood (GET /status's fields). */
  views(): Promise<NeighbourView[]>;
  /** Pings `to` from `from` through the overlay; resolves with the responder. */
  ping(from: string, to: string): Promise<string>;
  /** RouteQuery for `key` from `from`; resolves with the responsible node it reached. */
  route(from: string, key: Id): Promise<string>;
  store(from: string, resource: Id, value: string): Promise<void>;
  /** The values fetched at `resource` (text). */
  fetch(from: string, resource: Id): Promise<string[]>;
  /** The RELOAD error name a failed store or fetch carried (e.g. Forbidden). */
  errorName(e: unknown): string;
  /** Stops nodes abruptly: no Leave, no goodbye. */
  kill(ids: string[]): Promise<void>;
  /** Resolves once `done()` holds; rejects after `boundMs` of the net's own time (virtual or real). */
  waitFor(what: string, boundMs: number, done: () => Promise<boolean>): Promise<void>;
  /** Stops every live node, and fails if one of them ended badly. */
  stop(): Promise<void>;
}

export interface ConformanceOptions {
  /** Wall-time bound of the whole suite, ms (its `before` enrolls and starts every node). */
  timeoutMs: number;
  /** Random Resource-IDs routed and checked, before and after the failures. */
  routes: number;
  /** Nodes killed at once (two of them hold the same value). */
  kill: number;
  /** Values stored before the failures. */
  values: number;
  /** Bound on settling to the ground truth, after the joins or the failures, in the net's time. */
  settleMs: number;
}

/** Every ordered pair pings, `inFlight` at a time; the failures, one line each. */
async function allPairsPing(net: ConformanceNet, inFlight = 16): Promise<string[]> {
  const ids = net.ids();
  const pairs = ids.flatMap((a) => ids.filter((b) => b !== a).map((b) => [a, b] as const));
  const failures: string[] = [];
  for (let i = 0; i < pairs.length; i += inFlight) {
    await Promise.all(
      pairs.slice(i, i + inFlight).map(async ([a, b]) => {
        try {
          const responder = await net.ping(a, b);
          if (responder !== b) failures.push(`${a} -> ${b}: answered by ${responder}`);
        } catch (e) {
          failures.push(`${a} -> ${b}: ${(e as Error).message}`);
        }
      }),
    );
  }
  return failures;
}

/** Routes `count` random Resource-IDs from random live nodes; the ones that missed the ground truth. */
async function misroutes(net: ConformanceNet, count: number, rng: Prng): Promise<string[]> {
  const ids = net.ids();
  const truth = topologyTruth(net.config, ids.map(idFromHex));
  const wrong: string[] = [];
  for (let i = 0; i < count; i += 16) {
    await Promise.all(
      Array.from({ length: Math.min(16, count - i) }, async () => {
        const key = idFromHex(Buffer.from(rng.bytes(16)).toString('hex'));
        const from = rng.pick(ids);
        try {
          const got = await net.route(from, key);
          if (got !== truth.responsible(key)) wrong.push(`${idToHex(key)} from ${from.slice(0, 8)}: ${got}, truth ${truth.responsible(key)}`);
        } catch (e) {
          wrong.push(`${idToHex(key)} from ${from.slice(0, 8)}: ${(e as Error).message}`);
        }
      }),
    );
  }
  return wrong;
}

async function neighbourhoodErrors(net: ConformanceNet): Promise<string[]> {
  const truth = topologyTruth(net.config, net.ids().map(idFromHex));
  return (await net.views()).flatMap((v) => truth.neighbourhoodError({ state: 'unknown', ...v }, neighbourCount(net.config)) ?? []);
}

async function settled(net: ConformanceNet, boundMs: number, what: string): Promise<void> {
  let last: string[] = [];
  await net.waitFor(what, boundMs, async () => (last = await neighbourhoodErrors(net)).length === 0).catch((e: Error) => {
    throw new Error(`${e.message}:\n  ${last.join('\n  ')}`);
  });
}

/** Registers the suite; `start` brings the overlay up, every node joined. */
export function describeTopologyConformance(title: string, opts: ConformanceOptions, start: () => Promise<ConformanceNet>): void {
  describe(title, function () {
    this.timeout(opts.timeoutMs);
    let net: ConformanceNet;
    const seed = fuzzSeed();
    printReplayOnFailure(seed, import.meta.url);
    const rng = new Prng(seed);

    before(async () => {
      net = await start();
    });

    after(async () => net && (await net.stop()));

    it('joins: every neighbourhood equals the ground truth (Chord: successors and predecessors; Kademlia: the XOR-closest siblings, and a contact in every range that holds nodes)', async () => {
      await settled(net, opts.settleMs, 'neighbourhoods after the joins');
    });

    it('every ordered pair pings, and random Resource-IDs route to the node the ground truth holds responsible', async () => {
      expect(await allPairsPing(net)).to.deep.equal([]);
      expect(await misroutes(net, opts.routes, rng), `seed ${seed}`).to.deep.equal([]);
    });

    it('access control: a node stores in its own NODE-MULTIPLE slots; a store in another node\'s is refused with Forbidden', async () => {
      const [a, b] = net.ids() as [string, string];
      const theirs = nodeMultipleResource(idFromHex(b), 16, net.config.hash);
      const refused = await net.store(a, theirs, 'not mine').then(() => 'stored', (e: unknown) => net.errorName(e));
      expect(refused).to.equal('Forbidden');
      const mine = nodeMultipleResource(idFromHex(a), 16, net.config.hash);
      await net.store(a, mine, 'mine');
      expect(await net.fetch(b, mine)).to.deep.equal(['mine']);
    });

    it('stores values; peers killed abruptly, 2 of 3 holders of one value among them: neighbourhoods repair, all pairs ping, routes are right, and every value that kept a holder is fetched', async () => {
      const ids = net.ids();
      const stored = await Promise.all(
        Array.from({ length: opts.values }, async (_, i) => {
          const owner = ids[i % ids.length]!;
          const at = nodeMultipleResource(idFromHex(owner), 1 + Math.floor(i / ids.length), net.config.hash);
          const text = `value ${i}`;
          await net.store(owner, at, text);
          return { at, text };
        }),
      );
      const replicas = net.config.storage.replicas;
      const truth = topologyTruth(net.config, ids.map(idFromHex));
      const set = truth.replicaSet(stored[0]!.at, replicas);
      // Two holders of the first value, and others outside its replica set; its third holder lives.
      const victims = [...set.slice(0, 2), ...ids.filter((id) => !set.includes(id)).slice(0, opts.kill - 2)];
      await net.kill(victims);
      await settled(net, opts.settleMs, 'neighbourhoods after the failures');
      expect(await allPairsPing(net)).to.deep.equal([]);
      expect(await misroutes(net, opts.routes, rng), `seed ${seed}`).to.deep.equal([]);
      // A value whose holders were all among the killed is gone, as it should be; every other must be here.
      const dead = new Set(victims);
      const kept = stored.filter((v) => truth.replicaSet(v.at, replicas).some((h) => !dead.has(h)));
      expect(kept, 'the first value kept its third holder').to.include(stored[0]);
      const survivors = net.ids();
      const missing: string[] = [];
      for (const [i, v] of kept.entries()) {
        const got = await net.fetch(survivors[i % survivors.length]!, v.at).catch((e: Error) => [e.message]);
        if (got.join() !== v.text) missing.push(`${idToHex(v.at)}: ${got.join()} (want ${v.text})`);
      }
      expect(missing).to.deep.equal([]);
    });
  });
}
