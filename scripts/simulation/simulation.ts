/**
 * A simulated overlay: N nodes built from the same Node class as `reload-ppsp node`, over memory
 * links between simulated hosts, on a virtual clock, with one seed for every draw. They join,
 * store values, then live through churn (Pareto sessions; a peer that left comes back later with
 * its identity and address) while lookups run; at the end every value is fetched. Only links,
 * clock, random source and the signature primitive (a keyed stand-in, still checked on every
 * message) are replaced; certificates and the protocol are the real ones.
 */
import { createRootCa } from '../../certs/ca.js';
import type { Identity } from '../../certs/identity.js';
import { keyedStandIn } from '../../certs/signature-scheme.js';
import { TrustStore } from '../../certs/trust.js';
import { VirtualClock } from '../../overlay/clock.js';
import { newOverlayConfig, type OverlayConfig, type TopologyName } from '../../overlay/config.js';
import { idToHex, type Id } from '../../overlay/id.js';
import type { LinkEndpoint } from '../../overlay/link/link-factory.js';
import { MemoryNetwork } from '../../overlay/link/memory-network.js';
import { Node } from '../../overlay/node.js';
import { seededRandom, type Random } from '../../overlay/random.js';
import { nodeMultipleResource } from '../../overlay/storage/access-control.js';
import { MessageCode } from '../../overlay/wire/codes.js';
import { enrollInMemory } from '../local-ring.js';
import { MAINTENANCE_CODES } from '../maintenance.js';
import { topologyTruth } from '../topology-truth.js';
import { adversaryLinks, StaleValues } from './adversary.js';
import { Membership } from './membership.js';
import { pooled } from './pool.js';
import { paretoMs } from './churn.js';
import { SIM_PORT, simHost, simPaths } from './sim-network.js';
import { summarizeLookups, type LookupRecord, type LookupSummary } from './sim-report.js';

export const SIM_OVERLAY = 'sim.reload';
/** Values each node may store (NODE-MULTIPLE indexes). */
const VALUES_PER_NODE = 1000;
const SIM_KIND = { id: 0xf0000200, name: 'sim-value', dataModel: 'single' as const, accessControl: 'NODE-MULTIPLE' as const, maxCount: 1, maxSize: 256, maxNodeMultiple: VALUES_PER_NODE };
/** Nodes that join at once at first, each through a bootstrap node... */
const JOIN_BATCH = 16;
/** ...and later up to this share of those already in, so that a large overlay forms in few rounds... */
const JOIN_GROWTH = 0.1;
/**
 * ...but no more than the bootstrap nodes take at once: each newcomer links to two of the eight,
 * and a bootstrap node keeps 256 links, about 30 of them its ring's. A larger crowd makes them
 * evict links newcomers are still joining through (9,000 nodes: rounds of 900 took 17 virtual
 * seconds instead of 7).
 */
const JOIN_BATCH_MAX = 512;
/** Virtual time one round of joins may take before the run gives up. */
const JOIN_ROUND_LIMIT_MS = 600_000;
/** Tries to join before a peer stays down, and the virtual time between them. */
const JOIN_ATTEMPTS = 3;
const JOIN_RETRY_MS = 5_000;
/** Values being stored, and being fetched at the end, at once. */
const STORES_AT_ONCE = 512;
const FETCHES_AT_ONCE = 512;
/** Virtual time storing (or fetching) every value may take, per value, before the run gives up. */
const STORE_MS_PER_VALUE = 1_000;
/** Tries to fetch each value at the end, each from another node. */
const FETCH_ATTEMPTS = 3;
/** Timers between two turns of the event loop (VirtualClockOptions): the nodes await only promises. */
const SIM_TURN_EVERY = 256;
/** Virtual time a lookup may take before it counts as failed. */
const LOOKUP_TIMEOUT_MS = 10_000;

export interface SimulationOptions {
  nodes: number;
  topology: TopologyName;
  seed: number;
  /** Virtual time of the measured phase, ms. */
  durationMs: number;
  lookups: number;
  values: number;
  /** Mean session length under Pareto churn, ms; none: no churn. */
  meanSessionMs?: number;
  /** One-way delay bounds between hosts, ms. */
  latencyMs?: { min: number; max: number };
  /**
   * Share of the peers that name one another in their Update answers (adversary.ts), answer Fetches
   * with the first version of each value, and drop every message they should forward from the start
   * of the measured phase on; the bootstrap nodes are honest. Every value is then stored twice.
   */
  malicious?: number;
  /** Routes each lookup takes at once, through different first hops (config `lookupPaths`). */
  paths?: number;
}

export interface SimulationResult {
  options: SimulationOptions;
  nodeIds: { first: string; last: string };
  lookups: LookupSummary;
  /**
   * lost: held by no node that is up at the end; unfetched: the newest version not fetched in
   * FETCH_ATTEMPTS tries; stale: of those, the ones that got an older version (a peer replaying it).
   */
  values: { stored: number; lost: number; unfetched: number; stale: number };
  /** joinFailures: join attempts that failed (a peer tries JOIN_ATTEMPTS times before it stays down). */
  churn: { departures: number; arrivals: number; liveAtEnd: number; joinFailures: number };
  maintenance: { messagesPerNodePerMinute: number };
  /** With malicious peers: the share of the honest nodes' table entries that are malicious when the measured phase starts. */
  colluderShare?: number;
  /** Every message sent, per node per minute of uptime, by message name (maintenance, storage sync, lookups). */
  sentPerNodePerMinute: Record<string, number>;
}

interface SimPeer {
  index: number;
  identity: Identity;
  node: Node | undefined;
  /** Virtual ms the peer has been up, over all its sessions. */
  upMs: number;
  upSince: number;
  /** Messages its earlier sessions' nodes sent, by code. */
  sent: Map<number, number>;
  /** Drops what it should forward and lies in Updates; never the origin of a measured lookup. */
  malicious: boolean;
}

/** Bootstrap nodes every newcomer knows (the first peers, always honest). */
const BOOTSTRAPS = 8;
/** Draws of a lookup's origin before it is skipped, when the draws keep landing on malicious peers. */
const ORIGIN_DRAWS = 16;

const CODES = Object.values(MessageCode).filter((c): c is MessageCode => typeof c === 'number');

function addSent(node: Node, into: Map<number, number>): void {
  for (const code of CODES) {
    const n = node.metrics.messagesSent(code);
    if (n > 0) into.set(code, (into.get(code) ?? 0) + n);
  }
}

/**
 * Enrolls `count` identities with Node-IDs drawn from `random`: real P-256 keys and X.509
 * certificates from a real CA, signing with the keyed stand-in (an RSA signature per message would
 * cost more than everything else the simulation does).
 */
async function enrollAll(count: number, random: Random, progress: (line: string) => void): Promise<{ config: OverlayConfig; identities: Identity[] }> {
  const ca = await createRootCa({ overlay: SIM_OVERLAY });
  const signatures = keyedStandIn(random.bytes(32));
  const nodeIds = Array.from({ length: count }, () => idToHex(random.bytes(16) as Id));
  const identities: Identity[] = [];
  for (const [i, nodeIdHex] of nodeIds.entries()) {
    identities.push(await enrollInMemory(ca, SIM_OVERLAY, `peer${i}@${SIM_OVERLAY}`, { key: 'ecdsa', nodeIdHex, signatures }));
    if ((i + 1) % Math.max(1, Math.round(count / 10)) === 0) progress(`enrolled ${i + 1}/${count} identities`);
  }
  return { config: newOverlayConfig(SIM_OVERLAY, ca.certPem), identities };
}

export async function runSimulation(opts: SimulationOptions, progress: (line: string) => void): Promise<SimulationResult> {
  const random = seededRandom(opts.seed);
  // Under churn as many peers again are down at the start and come up over time, so that about
  // `nodes` are up throughout (sessions and downtimes have the same mean, as in OverSim's Pareto churn).
  const population = opts.meanSessionMs === undefined ? opts.nodes : 2 * opts.nodes;
  const enrolled = await enrollAll(population, random, progress);
  const config: OverlayConfig = { ...enrolled.config, topology: opts.topology, lookupPaths: opts.paths ?? 1, kinds: [...enrolled.config.kinds, SIM_KIND] };
  const clock = new VirtualClock(Date.now(), { turnEvery: SIM_TURN_EVERY });
  const trust = new TrustStore(config.rootCerts, config.overlay, { signatures: enrolled.identities[0]!.signatures, cacheSize: population });
  const latency = opts.latencyMs ?? { min: 10, max: 100 };
  const network = new MemoryNetwork({ clock, random: seededRandom(opts.seed + 1), path: simPaths(opts.seed, latency.min, latency.max) });
  const peers: SimPeer[] = enrolled.identities.map((identity, index) => ({ index, identity, node: undefined, upMs: 0, upSince: 0, sent: new Map(), malicious: false }));
  const bootstraps = peers.slice(0, Math.min(BOOTSTRAPS, peers.length)).map((p) => ({ host: simHost(p.index), port: SIM_PORT }));
  // Each peer's list starts at another bootstrap node, as users handed different lists would: a
  // node links to the first two it reaches, and one list for all would crowd two of the eight.
  const bootstrapsFor = (index: number) => {
    const others = bootstraps.filter((b) => b.host !== simHost(index));
    const start = index % Math.max(1, others.length);
    return [...others.slice(start), ...others.slice(0, start)];
  };
  // Drawn from a generator of their own, so a run with no malicious peers draws as it always did.
  const adversaries = seededRandom(opts.seed + 2);
  for (const p of peers.slice(BOOTSTRAPS)) p.malicious = adversaries.next() < (opts.malicious ?? 0);
  // They lie from the start, so the tables that are built name them more than they should, and
  // drop from the measured phase on: what is measured is lookups past them, not whether an
  // overlay can be built through them (a join through a dropper waits out its Attach timeouts).
  let adversariesDrop = false;
  const colluders = peers.filter((p) => p.malicious).map((p) => p.identity.nodeId);
  // One memory of stale values per malicious identity, kept across its sessions as a disk would.
  const staleValues = new Map<string, StaleValues>();
  const maliciousLinks = (endpoint: LinkEndpoint) => {
    const hex = endpoint.identity.nodeIdHex;
    if (!staleValues.has(hex)) staleValues.set(hex, new StaleValues(endpoint.identity));
    return adversaryLinks(network.linksFor(endpoint), { drops: () => adversariesDrop, lies: { identity: endpoint.identity, colluders: () => colluders }, stale: staleValues.get(hex) });
  };
  const members = new Membership<SimPeer>(topologyTruth(config, []));

  let joinFailures = 0;
  /** Starts a node for `p`; a join that fails is tried again later, as an operator's restart would. */
  const startPeer = async (p: SimPeer, first: boolean): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await startNode(p, first);
      } catch {
        joinFailures++;
        if (attempt === JOIN_ATTEMPTS) return;
        await new Promise((resolve) => clock.after(JOIN_RETRY_MS, () => resolve(undefined)));
      }
    }
  };
  const startNode = async (p: SimPeer, first: boolean): Promise<void> => {
    const node = new Node({
      config,
      identity: p.identity,
      listen: { host: simHost(p.index), port: SIM_PORT },
      bootstrap: first ? [] : bootstrapsFor(p.index),
      clock,
      random: seededRandom(opts.seed * 7919 + p.index * 104_729 + p.upMs),
      links: p.malicious ? maliciousLinks : network.linksFor,
      trust,
    });
    p.node = node;
    p.upSince = clock.now();
    try {
      await node.start();
    } catch (e) {
      p.node = undefined;
      await node.stop({ leave: false }).catch(() => {});
      throw e;
    }
    members.add(p);
  };
  const stopPeer = async (p: SimPeer): Promise<void> => {
    const node = p.node!;
    p.upMs += clock.now() - p.upSince;
    addSent(node, p.sent);
    p.node = undefined;
    members.remove(p);
    await node.stop({ leave: false });
  };

  // The bootstrap nodes come up one after another, as an operator would start them, before the
  // crowd.
  const bootstrapCount = Math.min(BOOTSTRAPS, opts.nodes);
  await clock.until(startPeer(peers[0]!, true), 60_000);
  for (const p of peers.slice(1, bootstrapCount)) await clock.until(startPeer(p, false), 60_000);
  let reported = 0;
  // In rounds: a pool that starts a join whenever one ends costs more wall time per join (1,000
  // nodes: 48 s against 35 s), as newcomers keep meeting neighbours that are still joining.
  for (let i = bootstrapCount; i < opts.nodes; ) {
    const batch = Math.min(JOIN_BATCH_MAX, Math.max(JOIN_BATCH, Math.floor(i * JOIN_GROWTH)));
    await clock.until(Promise.all(peers.slice(i, Math.min(i + batch, opts.nodes)).map((p) => startPeer(p, false))), JOIN_ROUND_LIMIT_MS);
    i = Math.min(i + batch, opts.nodes);
    if (i - reported >= opts.nodes / 10 || i === opts.nodes) progress(`joined ${(reported = i)}/${opts.nodes} nodes`);
  }
  await clock.run(config.chord.updateIntervalMs);

  const up = members.snapshot();
  const stored = Array.from({ length: opts.values }, (_, j) => {
    const p = up[j % up.length]!;
    return { p, resource: nodeMultipleResource(p.identity.nodeId, 1 + Math.floor(j / up.length), config.hash), bytes: `value ${j}` };
  });
  const store = (version: (bytes: string) => string) =>
    pooled(stored, STORES_AT_ONCE, ({ p, resource, bytes }) => p.node!.storage.store(SIM_KIND.name, resource, { model: 'single', value: { exists: true, value: Buffer.from(version(bytes)) } }));
  // With malicious peers every value is stored twice, so that those holding it can serve the old
  // version: only the newest counts as fetched.
  if (opts.malicious) await clock.until(store((bytes) => `${bytes}, first version`), opts.values * STORE_MS_PER_VALUE);
  await clock.until(store((bytes) => bytes), opts.values * STORE_MS_PER_VALUE);
  progress(`stored ${stored.length} values`);

  // The measured phase: churn and lookups, all on the clock.
  const phaseStart = clock.now();
  adversariesDrop = true;
  const colluderShare = opts.malicious ? shareOfColluders(members.snapshot(), new Set(colluders.map(idToHex))) : undefined;
  const pending = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>) => {
    const t = p.catch(() => {}).finally(() => pending.delete(t));
    pending.add(t);
  };
  let departures = 0;
  let arrivals = 0;
  // Churn stops with the measured phase: the values are checked on the overlay as it is then.
  let churning = true;
  if (opts.meanSessionMs !== undefined) {
    const mean = opts.meanSessionMs;
    const scheduleArrival = (p: SimPeer) =>
      clock.after(paretoMs(mean, random), () => {
        if (!churning) return;
        arrivals++;
        track(startPeer(p, false).then(() => scheduleDeparture(p)));
      });
    const scheduleDeparture = (p: SimPeer) =>
      clock.after(paretoMs(mean, random), () => {
        if (!p.node || !churning) return;
        departures++;
        track(stopPeer(p));
        scheduleArrival(p);
      });
    for (const p of peers.slice(0, opts.nodes)) scheduleDeparture(p);
    for (const p of peers.slice(opts.nodes)) scheduleArrival(p);
  }
  const records: LookupRecord[] = [];
  for (let i = 0; i < opts.lookups; i++) {
    clock.after(Math.floor(((i + random.next()) * opts.durationMs) / opts.lookups), () => {
      let origin: Node | undefined;
      for (let draw = 0; draw < ORIGIN_DRAWS && !origin; draw++) {
        const p = members.pick(random.next());
        if (p && !p.malicious) origin = p.node;
      }
      if (!origin) return;
      const key = random.bytes(16) as Id;
      const at = clock.now() - phaseStart;
      track(
        origin.route(key, LOOKUP_TIMEOUT_MS).then(
          (r) => {
            const ok = r.responsible === members.truth.responsible(key);
            records.push({ at, ok, ...(ok ? {} : { failure: 'wrong-node' as const }), hops: r.hops, latencyMs: r.rttMs });
          },
          () => records.push({ at, ok: false, failure: origin.state === 'stopped' || origin.state === 'leaving' ? 'origin-left' : 'no-answer' }),
        ),
      );
    });
  }
  for (let minute = 1; clock.now() - phaseStart < opts.durationMs; minute++) {
    await clock.run(Math.min(60_000, opts.durationMs - (clock.now() - phaseStart)));
    progress(`minute ${minute}: ${members.size} nodes up, ${records.length}/${opts.lookups} lookups done`);
  }
  churning = false;
  await clock.until(Promise.all([...pending]), 60_000);

  // Every value fetched (a failed fetch is tried again, as a user would); a value is lost when
  // no node that is up holds it, which is checked where fetching failed.
  const live = members.snapshot();
  let unfetched = 0;
  let lost = 0;
  let stale = 0;
  const fetching = pooled(stored, FETCHES_AT_ONCE, async (v, i): Promise<'newest' | 'stale' | 'failed'> => {
    let outcome: 'stale' | 'failed' = 'failed';
    for (let attempt = 0; attempt < FETCH_ATTEMPTS; attempt++) {
      const from = live[(i + attempt) % live.length]!.node!;
      const got = await from.storage.fetch(SIM_KIND.name, v.resource).catch(() => undefined);
      const value = got?.values.length === 1 ? Buffer.from(got.values[0]!.data.value.value.value).toString() : undefined;
      if (value === v.bytes) return 'newest';
      if (value !== undefined) outcome = 'stale';
    }
    return outcome;
  });
  // A value whose fetches all time out (peers that drop them) takes FETCH_ATTEMPTS request timeouts.
  const fetchBoundMs = Math.max(stored.length * (opts.malicious ? 2 : 1) * STORE_MS_PER_VALUE, FETCH_ATTEMPTS * config.requestTimeoutMs * 2);
  for (const [i, outcome] of (await clock.until(fetching, fetchBoundMs)).entries()) {
    if (outcome === 'newest') continue;
    unfetched++;
    if (outcome === 'stale') stale++;
    const v = stored[i]!;
    const held = live.some((p) => p.node!.storage.engine.fetch(v.resource, [{ kindId: SIM_KIND.id, generation: 0n, selector: { model: 'single' } }]).kinds[0]?.values.some((d) => d.value.value.exists && Buffer.from(d.value.value.value).toString() === v.bytes));
    if (!held) lost++;
  }
  const liveAtEnd = members.size;
  await clock.until(Promise.all(peers.filter((p) => p.node).map(stopPeer)), 60_000);
  const sent = new Map<number, number>();
  let upMs = 0;
  for (const p of peers) {
    for (const [code, n] of p.sent) sent.set(code, (sent.get(code) ?? 0) + n);
    upMs += p.upMs;
  }
  const perNodeMinute = (n: number) => (upMs ? Math.round((n / (upMs / 60_000)) * 100) / 100 : 0);
  const maintenance = MAINTENANCE_CODES.reduce((sum, code) => sum + (sent.get(code) ?? 0), 0);
  const sorted = [...peers].map((p) => p.identity.nodeIdHex).sort();
  return {
    options: opts,
    nodeIds: { first: sorted[0]!, last: sorted.at(-1)! },
    lookups: summarizeLookups(records.sort((a, b) => a.at - b.at)),
    values: { stored: stored.length, lost, unfetched, stale },
    churn: { departures, arrivals, liveAtEnd, joinFailures },
    maintenance: { messagesPerNodePerMinute: perNodeMinute(maintenance) },
    ...(colluderShare === undefined ? {} : { colluderShare }),
    sentPerNodePerMinute: Object.fromEntries([...sent].sort((a, b) => a[0] - b[0]).map(([code, n]) => [MessageCode[code], perNodeMinute(n)])),
  };
}

/** The share of the honest peers' table entries that are malicious: above the share of malicious peers, the lies took hold. */
function shareOfColluders(up: SimPeer[], colluders: Set<string>): number {
  let entries = 0;
  let malicious = 0;
  for (const p of up) {
    if (p.malicious) continue;
    const table = p.node!.topology.table.peers();
    entries += table.length;
    malicious += table.filter((id) => colluders.has(idToHex(id))).length;
  }
  return entries === 0 ? 0 : Math.round((malicious / entries) * 10_000) / 10_000;
}
