/**
 * The PPSP signalling usage: the composition root of the signalling side. It registers the
 * swarm-membership Kind (tracker.ts), the message codes (codes.ts) and the handlers
 * (signalling.ts) on a node, keeps the per-swarm state the handlers answer from (our properties
 * and transports, the peers we know in each swarm) and offers the client calls, which teach the
 * view what they learn. The data plane plugs in what only it knows (our availability, who holds
 * which chunk, the tls data-channel address) through setters.
 */
import type { Id, Node } from '../../../overlay/index.js';
import type { Usage } from '../../usage.js';
import type { Availability } from '../content/availability.js';
import { registerPpspCodes } from './codes.js';
import type { PeerProperties } from './properties.js';
import { encodeProperties } from './properties.js';
import {
  exchangeProperties,
  MAX_PEER_LIST,
  PeerView,
  requestAvailability,
  requestPeerList,
  requestTransports,
  sendSwarmLeave,
  signallingHandlers,
  type SignallingHost,
} from './signalling.js';
import { parseSwarmId } from '../content/swarm-id.js';
import { announce, DEFAULT_ANNOUNCE_LIFETIME_SEC, members, SWARM_KIND, withdraw, type PeerEntry } from './tracker.js';
import { chooseTransport, encodeTransports, type ReachablePredicate, type TransportDescriptor } from './transports.js';

/** Goodbyes sent when leaving a swarm at most (to the most recently heard-of peers), best effort. */
export const MAX_GOODBYES = 16;
/** How long a goodbye may take, ms. */
export const GOODBYE_TIMEOUT_MS = 2000;

export interface PpspSignallingOptions {
  /** What this peer tells others about itself (seed §4.2.3). */
  properties: PeerProperties;
  /** Transports offered for data (default: overlay relay only; the data plane adds tls). */
  transports?: TransportDescriptor[];
  /** Lifetime of tracker announcements, s (default DEFAULT_ANNOUNCE_LIFETIME_SEC); refreshed at 3/4. */
  announceLifetimeSec?: number;
  /** Timeout of each signalling request, ms (default: the node's). */
  requestTimeoutMs?: number;
  /** Whether a peer's tls address can be dialled from here (default: always). */
  reachable?: ReachablePredicate;
  /** Uniform in [0, 1) for tie-breaks (default: the node's random source); inject for reproducible tests. */
  random?: () => number;
}

export interface NegotiatedTransport {
  /** What the requester chose: their tls address, or the overlay relay. */
  transport: TransportDescriptor;
  /** What the peer offered. */
  theirs: TransportDescriptor[];
}

interface SwarmState {
  view: PeerView;
  haveCount?: number;
  /** A live channel: said in the tracker entry. */
  live?: boolean;
}

export class PpspSignallingUsage implements Usage {
  readonly name = 'ppsp-signalling';
  private nodeRef: Node | undefined;
  private props: PeerProperties;
  private offered: TransportDescriptor[];
  private allows: (swarmId: string, type: TransportDescriptor['type']) => boolean = () => true;
  private readonly swarms = new Map<string, SwarmState>();
  private availabilityOf: (swarmId: string) => Availability | undefined = () => undefined;
  private holds: ((swarmId: string, peerHex: string, chunk: number) => boolean | undefined) | undefined;
  private readonly lifetimeSec: number;
  private readonly ownRandom?: () => number;

  constructor(private readonly opts: PpspSignallingOptions) {
    encodeProperties(opts.properties);
    this.props = opts.properties;
    this.offered = this.checkedTransports(opts.transports ?? [{ type: 'overlay' }]);
    this.lifetimeSec = opts.announceLifetimeSec ?? DEFAULT_ANNOUNCE_LIFETIME_SEC;
    this.ownRandom = opts.random;
  }

  // ---- Usage --------------------------------------------------------------------------------

  /** Registers the swarm Kind, the codes and the handlers; call before node.start(). */
  attach(node: Node): void {
    if (this.nodeRef) throw new Error('the PPSP signalling usage is attached already');
    this.nodeRef = node;
    if (!node.kinds.byId(SWARM_KIND.id)) node.kinds.register(SWARM_KIND);
    registerPpspCodes();
    const host: SignallingHost = {
      get nodeId() {
        return node.nodeId;
      },
      properties: () => this.props,
      transports: (swarmId) => this.offeredFor(swarmId),
      view: (swarmId) => this.swarms.get(swarmId)?.view,
      // The data plane is the authority on what it holds, joined to the swarm's signalling or not.
      localAvailability: (swarmId) => this.availabilityOf(swarmId),
      peerHasChunk: (swarmId, peerHex, chunk) => this.holds?.(swarmId, peerHex, chunk),
      random: this.ownRandom ?? node.random.next,
    };
    for (const handler of signallingHandlers(host)) node.registerMethod(handler);
  }

  async start(): Promise<void> {}

  /** Withdraws from every swarm (best effort: the entries would expire anyway). */
  async stop(): Promise<void> {
    await Promise.allSettled([...this.swarms.keys()].map((s) => this.leaveSwarm(s)));
  }

  // ---- local state (the data plane's setters) ------------------------------------------------

  get properties(): PeerProperties {
    return this.props;
  }

  /** New properties; announced with the next joinSwarm / reannounce. */
  setProperties(p: PeerProperties): void {
    encodeProperties(p);
    this.props = p;
  }

  get transports(): TransportDescriptor[] {
    return [...this.offered];
  }

  /** Replaces the offered transports (checked like a peer's). */
  setTransports(transports: TransportDescriptor[]): void {
    this.offered = this.checkedTransports(transports);
  }

  /**
   * Offers PPSPP channels at `address` (ip:port), before every other transport (a node that serves
   * PPSPP prefers it where a swarm allows it), or withdraws them with undefined.
   */
  setPpsppAddress(address: string | undefined): void {
    const rest = this.offered.filter((t) => t.type !== 'ppspp');
    this.setTransports(address === undefined ? rest : [{ type: 'ppspp', address }, ...rest]);
  }

  /** Decides which of the offered transports a swarm's data may take (a swarm may require tls). */
  setTransportPolicy(allows: (swarmId: string, type: TransportDescriptor['type']) => boolean): void {
    this.allows = allows;
  }

  /** What this node offers for one swarm's data: the offered transports the swarm allows. */
  offeredFor(swarmId: string): TransportDescriptor[] {
    return this.offered.filter((t) => this.allows(swarmId, t.type));
  }

  /** Offers a tls data channel at `address` (host:port) first, or withdraws it with undefined. */
  setTlsAddress(address: string | undefined): void {
    const rest = this.offered.filter((t) => t.type !== 'tls');
    this.setTransports(address === undefined ? rest : [{ type: 'tls', address }, ...rest]);
  }

  /** Where AvailabilityReq answers come from (the data plane's chunk store). */
  setLocalAvailability(fn: (swarmId: string) => Availability | undefined): void {
    this.availabilityOf = fn;
  }

  /** Whether a peer holds a chunk as far as the data plane knows (for chunk peer lists). */
  setPeerHasChunk(fn: ((swarmId: string, peerHex: string, chunk: number) => boolean | undefined) | undefined): void {
    this.holds = fn;
  }

  /** Swarms this node takes part in. */
  swarmIds(): string[] {
    return [...this.swarms.keys()];
  }

  /** The peers this node knows in a swarm (empty if it takes no part). */
  knownPeers(swarmId: string): PeerEntry[] {
    return this.swarms.get(parseSwarmId(swarmId))?.view.list() ?? [];
  }

  // ---- the tracker ----------------------------------------------------------------------------

  /**
   * Takes part in a swarm: answers its signalling from now on, announces this node in the
   * tracker (re-stored by the storage layer until leaveSwarm) and fetches the members into the
   * view, which it returns. Called again: re-announces and refreshes. The view is not refreshed
   * on a timer; the data plane calls refreshMembers when it wants more peers.
   */
  async joinSwarm(swarmId: string, opts: { haveCount?: number; live?: boolean } = {}): Promise<PeerEntry[]> {
    const id = parseSwarmId(swarmId);
    await this.announceOne(id, opts.haveCount, opts.live);
    return this.refreshMembers(id);
  }

  /** Re-announces every swarm (after new properties or transports). */
  async reannounce(): Promise<void> {
    await Promise.all([...this.swarms.keys()].map((s) => this.announceOne(s)));
  }

  /** Drops a peer from a swarm's view (e.g. the data plane found it gone); true if it was there. */
  forgetPeer(swarmId: string, nodeIdHex: string): boolean {
    return this.swarms.get(parseSwarmId(swarmId))?.view.forget(nodeIdHex.toLowerCase()) ?? false;
  }

  /** Fetches the tracker's members into the view and returns them (this node left out). */
  async refreshMembers(swarmId: string): Promise<PeerEntry[]> {
    const id = parseSwarmId(swarmId);
    const { peers } = await members(this.node, id);
    const others = peers.filter((p) => p.nodeIdHex !== this.node.nodeIdHex);
    const view = this.swarms.get(id)?.view;
    if (view) for (const p of others) view.learn(p.nodeId, { ...(p.properties ? { properties: p.properties } : {}), transports: p.transports, ...(p.haveCount === undefined ? {} : { haveCount: p.haveCount }) });
    return others;
  }

  /** Withdraws from a swarm's tracker entry, says goodbye to a few known peers, forgets the swarm. */
  async leaveSwarm(swarmId: string): Promise<void> {
    const id = parseSwarmId(swarmId);
    const state = this.swarms.get(id);
    if (!state) return;
    this.swarms.delete(id);
    const recent = state.view.list().slice(-MAX_GOODBYES);
    await Promise.allSettled([withdraw(this.node, id, this.lifetimeSec), ...recent.map((p) => sendSwarmLeave(this.node, p.nodeId, id, GOODBYE_TIMEOUT_MS))]);
  }

  // ---- client calls (seed §5 steps 1-6) --------------------------------------------------------

  /** Step 1-2: up to `count` peers of a swarm (or holders of `chunk`) from `peer`'s view. */
  async peerList(peer: Id, swarmId: string, count: number, opts: { chunk?: number } = {}): Promise<PeerEntry[]> {
    const id = parseSwarmId(swarmId);
    const peers = (await requestPeerList(this.node, peer, { swarmId: id, count: Math.min(count, MAX_PEER_LIST), properties: this.props, ...opts }, this.opts.requestTimeoutMs)).filter((p) => p.nodeIdHex !== this.node.nodeIdHex);
    const view = this.swarms.get(id)?.view;
    if (view) for (const p of peers) view.learn(p.nodeId, { ...(p.properties ? { properties: p.properties } : {}), ...(p.transports.length ? { transports: p.transports } : {}) });
    return peers;
  }

  /** Steps 3-4: `peer`'s availability of a swarm of `chunkCount` chunks. */
  availability(peer: Id, swarmId: string, chunkCount: number): Promise<Availability> {
    return requestAvailability(this.node, peer, parseSwarmId(swarmId), chunkCount, this.opts.requestTimeoutMs);
  }

  /** Property exchange: ours to `peer`, theirs back (remembered in the swarm's view if given). */
  async exchangeProperties(peer: Id, swarmId?: string): Promise<PeerProperties> {
    const id = swarmId === undefined ? undefined : parseSwarmId(swarmId);
    const theirs = await exchangeProperties(this.node, peer, this.props, id, this.opts.requestTimeoutMs);
    if (id !== undefined) this.swarms.get(id)?.view.learn(peer, { properties: theirs });
    return theirs;
  }

  /** Steps 5-6: both sides report their transports; this node (the requester) chooses. */
  /** Does this node offer a transport of this type? */
  offers(type: TransportDescriptor['type']): boolean {
    return this.offered.some((t) => t.type === type);
  }

  async negotiateTransport(peer: Id, swarmId: string): Promise<NegotiatedTransport> {
    const id = parseSwarmId(swarmId);
    const mine = this.offeredFor(id);
    const theirs = await requestTransports(this.node, peer, id, mine, this.opts.requestTimeoutMs);
    this.swarms.get(id)?.view.learn(peer, { transports: theirs });
    return { transport: chooseTransport(mine, theirs, this.opts.reachable), theirs };
  }

  // ---- internals ------------------------------------------------------------------------------

  private async announceOne(swarmId: string, haveCount?: number, live?: boolean): Promise<void> {
    const state = this.swarms.get(swarmId) ?? { view: new PeerView() };
    if (haveCount !== undefined) state.haveCount = haveCount;
    if (live) state.live = true;
    this.swarms.set(swarmId, state);
    const said = { ...(state.haveCount === undefined ? {} : { haveCount: state.haveCount }), ...(state.live ? { live: true } : {}) };
    await announce(this.node, swarmId, { properties: this.props, transports: this.offeredFor(swarmId), ...said }, this.lifetimeSec);
  }

  private get node(): Node {
    if (!this.nodeRef) throw new Error('the PPSP signalling usage is not attached to a node');
    return this.nodeRef;
  }

  private checkedTransports(transports: TransportDescriptor[]): TransportDescriptor[] {
    encodeTransports(transports);
    return [...transports];
  }
}
