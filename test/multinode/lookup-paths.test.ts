/**
 * Lookups along several routes (config `lookupPaths`, overlay/routing/paths.ts), for both plugins:
 * a peer that drops what it should forward (scripts/simulation/adversary.ts) sits on the route a
 * node would take to a key. Over one route the lookup fails; over three, through different first
 * hops, the RouteQuery reaches the owner the ground truth names and the Fetch gets the stored value.
 * And an owner that serves the first version of a value after a newer one was stored is outvoted:
 * the Fetch also asks every replica holder, found by the topology, and the newest version wins.
 */
import { expect } from 'chai';
import { TOPOLOGIES } from '../../overlay/config.js';
import { idEquals, idToHex, type Id } from '../../overlay/id.js';
import type { Node } from '../../overlay/node.js';
import { nodeMultipleResource } from '../../overlay/storage/access-control.js';
import { decodeFetchAns, encodeFetchReq } from '../../overlay/storage/codec.js';
import { EncodedBody } from '../../overlay/wire/body.js';
import { MessageCode } from '../../overlay/wire/codes.js';
import { adversaryLinks, droppingLinks, StaleValues } from '../../scripts/simulation/adversary.js';
import { topologyTruth } from '../../scripts/topology-truth.js';
import { wrongNeighbours } from '../helpers/ring-check.js';
import { startVirtualTestnet } from '../helpers/testnet.js';
import { waitForVirtual } from '../helpers/wait.js';
import { CONFORMANCE_KIND } from './topology-conformance.js';

const PEERS = 24;
const PATHS = 3;

interface Scenario {
  origin: Node;
  dropper: Node;
  storer: Node;
  key: Id;
}

/**
 * A key, a node that would send its lookup through `dropper` first, and another first hop of its
 * whose own next step is the owner: the case several routes are for. Only `dropper` and `storer`
 * when given (the tables move with maintenance, so the case is checked again right before use).
 */
function findScenario(nodes: Node[], owner: (key: Id) => string, only?: { dropper: Node; storer: Node; key: Id }): Scenario | undefined {
  const byHex = new Map(nodes.map((n) => [n.nodeIdHex, n]));
  for (const storer of only ? [only.storer] : nodes) {
    for (let slot = 1; slot <= 16; slot++) {
      const key = nodeMultipleResource(storer.nodeId, slot, storer.config.hash);
      if (only && !idEquals(key, only.key)) continue;
      for (const origin of nodes) {
        const table = origin.topology.table;
        if (table.isResponsible(key)) continue;
        const [first, ...others] = table.nextHops(key, PATHS);
        const dropper = first && byHex.get(idToHex(first));
        if (!dropper || dropper.nodeIdHex === owner(key) || dropper === storer || (only && dropper !== only.dropper)) continue;
        const clean = others.some((h) => {
          const hop = byHex.get(idToHex(h))!;
          const next = hop.topology.table.nextHop(key);
          return hop.nodeIdHex === owner(key) || (next !== undefined && idToHex(next) === owner(key) && !idEquals(next, dropper.nodeId));
        });
        if (clean) return { origin, dropper, storer, key };
      }
    }
  }
  return undefined;
}

for (const topology of TOPOLOGIES) {
  describe(`${topology}: lookups over ${PATHS} routes get past a peer that drops what it forwards`, function () {
    this.timeout(120_000);
    const dropping = new Set<string>();

    it(`over 1 route the RouteQuery is lost; over ${PATHS} it reaches the owner and the Fetch gets the value`, async () => {
      const { clock, net } = await startVirtualTestnet(PEERS, {
        topology,
        kinds: [CONFORMANCE_KIND],
        lookupPaths: PATHS,
        wrapLinks: (links, endpoint) => droppingLinks(links, () => dropping.has(endpoint.identity.nodeIdHex)),
      });
      try {
        const count = topology === 'KADEMLIA' ? net.config.kademlia.siblingCount : net.config.chord.neighbourCount;
        await waitForVirtual(clock, () => wrongNeighbours(net.nodes, count).length === 0, 60_000, 'neighbourhoods');
        const truth = topologyTruth(net.config, net.nodes.map((n) => n.nodeId));
        const scenario = findScenario(net.nodes, (key) => truth.responsible(key));
        expect(scenario, 'a key whose first hop is not its owner, with another first hop one step from it').not.to.equal(undefined);
        const { dropper, storer, key } = scenario!;
        await clock.until(storer.storage.store(CONFORMANCE_KIND.name, key, { model: 'single', value: { exists: true, value: Buffer.from('kept') } }), 30_000);
        dropping.add(dropper.nodeIdHex);
        const now = findScenario(net.nodes, (k) => truth.responsible(k), { dropper, storer, key });
        expect(now, 'the same case after the store').not.to.equal(undefined);
        const { origin } = now!;

        // Shorter than the reliability timer: no retransmission, which could leave on a route the
        // maintenance has changed meanwhile.
        const one = await clock.until(origin.route(key, net.config.reliabilityTimerMs - 500, 1).then(() => 'answered', (e: Error) => e.message), 60_000);
        expect(one, `one route through ${dropper.nodeIdHex}`).not.to.equal('answered');
        const several = await clock.until(origin.route(key, 5_000), 60_000);
        expect(several.responsible).to.equal(truth.responsible(key));
        const fetched = await clock.until(origin.storage.fetch(CONFORMANCE_KIND.name, key), 60_000);
        expect(fetched.values.map((v) => Buffer.from(v.data.value.value.value).toString())).to.deep.equal(['kept']);
      } finally {
        dropping.clear();
        await clock.until(net.stopAll(), 30_000);
      }
    });
  });

  describe(`${topology}: a Fetch over ${PATHS} routes asks every replica holder`, function () {
    this.timeout(120_000);

    it('an owner that serves an older version is outvoted by the holders that have the newest', async () => {
      const stale = new Set<string>();
      const { clock, net } = await startVirtualTestnet(PEERS, {
        topology,
        kinds: [CONFORMANCE_KIND],
        lookupPaths: PATHS,
        wrapLinks: (links, endpoint) => {
          const memory = new StaleValues(endpoint.identity);
          const hex = endpoint.identity.nodeIdHex;
          return adversaryLinks(links, { drops: () => false, get stale() { return stale.has(hex) ? memory : undefined; } });
        },
      });
      try {
        const count = topology === 'KADEMLIA' ? net.config.kademlia.siblingCount : net.config.chord.neighbourCount;
        await waitForVirtual(clock, () => wrongNeighbours(net.nodes, count).length === 0, 60_000, 'neighbourhoods');
        const truth = topologyTruth(net.config, net.nodes.map((n) => n.nodeId));
        const storer = net.nodes[0]!;
        // A key the storer holds no copy of, so that every holder hears both Stores over a link.
        const key = [...Array(16).keys()]
          .map((i) => nodeMultipleResource(storer.nodeId, i + 1, storer.config.hash))
          .find((k) => !truth.replicaSet(k, net.config.storage.replicas).includes(storer.nodeIdHex))!;
        const holders = truth.replicaSet(key, net.config.storage.replicas);
        const owner = net.nodes.find((n) => n.nodeIdHex === holders[0])!;
        const origin = net.nodes.find((n) => !holders.includes(n.nodeIdHex) && n !== storer)!;
        stale.add(owner.nodeIdHex);
        const store = (text: string) => clock.until(storer.storage.store(CONFORMANCE_KIND.name, key, { model: 'single', value: { exists: true, value: Buffer.from(text) } }), 30_000);
        await store('first');
        await clock.run(1_000);
        await store('second');

        const specifiers = [{ kindId: CONFORMANCE_KIND.id, generation: 0n, selector: { model: 'single' as const } }];
        const asked = await clock.until(origin.request([{ type: 'node', id: owner.nodeId }], MessageCode.FetchReq, new EncodedBody(encodeFetchReq({ resource: key, specifiers }))), 30_000);
        const served = decodeFetchAns(asked.raw, net.config.maxMessageSize).kinds[0]!.values.map((v) => Buffer.from(v.value.value.value).toString());
        expect(served, 'the owner, asked alone, serves the first version').to.deep.equal(['first']);
        expect((await clock.until(origin.topology.replicaHolders(key, holders.length), 30_000)).map((h) => idToHex(h.id)), 'the holders the topology finds').to.deep.equal(holders);
        const fetched = await clock.until(origin.storage.fetch(CONFORMANCE_KIND.name, key), 60_000);
        expect(fetched.values.map((v) => Buffer.from(v.data.value.value.value).toString())).to.deep.equal(['second']);
      } finally {
        await clock.until(net.stopAll(), 30_000);
      }
    });
  });
}
