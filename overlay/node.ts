/**
 * The composition root of a RELOAD node: builds trust store, links, forwarder, transaction table,
 * method dispatcher and topology plugin from an overlay configuration and an identity, and runs
 * them: start = listen, link to bootstrap nodes, join; stop = leave (unless crashing), close.
 */
import type { Identity } from '../certs/identity.js';
import { TrustStore } from '../certs/trust.js';
import { systemClock, type Clock, type Timer } from './clock.js';
import { systemRandom, type Random } from './random.js';
import type { BootstrapNode, OverlayConfig } from './config.js';
import { ErrorCode, ReloadError, isReloadError } from './errors.js';
import { idEquals, idFromHex, idToHex, isHexId, type Id } from './id.js';
import { LruCache } from './util/lru.js';
import { Backoff } from './util/backoff.js';
import { RECONNECT_INITIAL_MS, RECONNECT_MAX_MS, Reconnector } from './reconnector.js';
import { joinWithRetries } from './join-retry.js';
import type { Link } from './link/link.js';
import { tlsLinks, type LinkEndpoint, type LinkFactory, type LinkListener } from './link/link-factory.js';
import { silentLogger, type Logger } from './log.js';
import { appAttachHandler } from './methods/app-attach.js';
import { attachHandler, attachRequestBody, formatCandidate, parseAttachAnswer, type AttachAnswer, type TraversalOffer } from './methods/attach.js';
import { Dispatcher, type MethodHandler } from './methods/dispatcher.js';
import { parsePingAnswer, PING_RESPONSE_ID_BYTES, pingHandler, pingRequestBody } from './methods/ping.js';
import { parseRouteQueryAnswer, routeQueryHandler } from './methods/route-query.js';
import { topologyHandlers } from './methods/topology-methods.js';
import { admitSecondLink, duplicateNodeId, LINK_PROBE_TIMEOUT_MS } from './routing/link-admission.js';
import { LinkTable } from './routing/link-table.js';
import { MessageTransport, type Response, type SigningOptions } from './routing/message-transport.js';
import { RoutingMetrics } from './routing/metrics.js';
import { answersOnEveryRoute, holderRoutes, routesTowards, withAnswersBeside } from './routing/paths.js';
import { topologyPolicy } from './routing/topology-policy.js';
import { createTopology } from './topology/registry.js';
import { KindRegistry } from './storage/kinds.js';
import { fetchCertificates, publishCertificate } from './storage/certificate-store.js';
import type { StorageBackend } from './storage/storage-backend.js';
import { storageMetricFamilies } from './storage/storage-metrics.js';
import { StorageService } from './storage/storage-service.js';
import type { Topology, TopologyHost, TopologyStatus } from './topology/topology.js';
import { MessageCode } from './wire/codes.js';
import type { PeerCacheStore } from './peer-cache-store.js';
import type { Destination } from './wire/message.js';
import { reachabilityHandler, type ReachabilityStatus } from './nat/reachability.js';
import { Traversal, type Channel, type LinkMechanism } from './nat/traversal.js';
import { ApplicationChannels, type ServeOptions } from './nat/application-channels.js';
import { relayIncomingBody, relayIncomingHandler, relayReserveHandler } from './nat/relay-methods.js';
import { RelayServer } from './nat/relay-server.js';

export type { Response } from './routing/message-transport.js';

/**
 * - `joining`: started, not in the overlay yet;
 * - `joined`: in the overlay (a node that started with no bootstrap node is an overlay of its own);
 * - `disconnected`: it was in the overlay and lost every link; it is getting back in (bootstrap
 *   nodes and cached peers, with backoff) and joins again. Requests through it are refused meanwhile:
 *   alone, it would answer for every Resource-ID itself.
 * - `leaving`, `stopped`.
 */
export type NodeState = 'stopped' | 'joining' | 'joined' | 'disconnected' | 'leaving';

export interface NodeOptions {
  config: OverlayConfig;
  identity: Identity;
  /** Address to accept links on; port 0 picks a free one. Omit for a node that only dials out. */
  listen?: { host: string; port: number };
  /** Bootstrap nodes besides those in the config (the CLI's --bootstrap). */
  bootstrap?: BootstrapNode[];
  clock?: Clock;
  logger?: Logger;
  /** A client neither routes nor stores; it reaches the overlay through one peer (RFC 6940 §3.2). */
  client?: boolean;
  /**
   * Refuse to join as a peer when the node cannot be dialled and finds no relay (start rejects
   * with Forbidden `unreachable_peer`), so that its owner can start it as a client instead: peers
   * behind NATs that pick new ports could never link to it, and the ring would route to it in vain.
   */
  clientIfUnreachable?: boolean;
  /** TLS handshake / connect timeout, ms. */
  connectTimeoutMs?: number;
  /** Keeps the peer cache across restarts; without it the cache lives in memory only. */
  peerCacheStore?: PeerCacheStore;
  /** Keeps the values stored for others across restarts; without it they live in memory only. */
  storageBackend?: StorageBackend;
  /** Draws transaction ids, backoff jitter and the like; node:crypto's by default, a seeded one in simulation. */
  random?: Random;
  /** How this node makes links: TLS by default; MemoryNetwork.linksFor for tests and simulation. */
  links?: (self: LinkEndpoint) => LinkFactory;
  /**
   * The certificate checks, shared by the nodes of one process (the simulator: a certificate's
   * chain is checked once, not once per node). Default: the node's own, for the config's roots.
   */
  trust?: TrustStore;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Peers remembered as spare bootstrap nodes (RFC 6940 §11.4 suggests about 10). */
export const PEER_CACHE_SIZE = 10;
/** Peers whose Leave is remembered, to tell a peer that left from one that failed when its link closes. */
export const LEAVES_REMEMBERED = 64;

export class Node {
  readonly config: OverlayConfig;
  readonly identity: Identity;
  readonly trust: TrustStore;
  readonly metrics = new RoutingMetrics();
  readonly dispatcher = new Dispatcher();
  private readonly clock: Clock;
  /** The node's random source, for usages too (a simulation seeds it). */
  readonly random: Random;
  private readonly log: Logger;
  readonly topology: Topology;
  /** Kinds this overlay stores: the configuration's, the certificate store's, and usages'. */
  readonly kinds: KindRegistry;
  /** Storage: serving Store/Fetch/Stat/Find for others (not on a client), and their client side. */
  readonly storage: StorageService;
  private readonly links: LinkTable;
  private readonly transport: MessageTransport;
  private readonly linkFactory: LinkFactory;
  private listener: LinkListener | undefined;
  /** The Node-ID each bootstrap address authenticated as, once linked ("host:port" -> id). */
  private readonly bootstrapIds = new Map<string, Id>();
  /** Addresses of peers this node has looked up, as spare bootstrap nodes (RFC 6940 §11.4). */
  private readonly peerCache = new LruCache<string, BootstrapNode>(PEER_CACHE_SIZE);
  private stateValue: NodeState = 'stopped';
  /** This node's certificate is in the overlay's certificate store. */
  private certificatePublished = false;
  /** The next try at storing it, after a failed one. */
  private publishRetry: Timer | undefined;
  /** Reachability asked again while the node runs (links.reachabilityIntervalMs). */
  private reachabilityTimer: Timer | undefined;
  /** Application channels this node serves and opens (AppAttach). */
  private readonly applications: ApplicationChannels;
  /** Random per process: this node's Ping response_id, which tells it apart from another process with its Node-ID. */
  private readonly instanceId: Uint8Array;
  /** Peers that sent Leave lately (hex): when their link closes they left, they did not fail. */
  private readonly leaves = new LruCache<string, true>(LEAVES_REMEMBERED);
  /**
   * Peers whose Attach this node answered lately (hex -> until when, ms): the link each dials
   * next is one this node agreed to, so it is not greeted (see greet). As many as links are kept.
   */
  private readonly expectedLinks: LruCache<string, number>;
  /** Gets the node back into the overlay once it has lost every link. */
  private readonly reconnector: Reconnector;
  /** Its reachability, and links through NATs (reversed, punched, relayed). */
  private readonly traversal: Traversal;
  /** The overlay's links as a channel of the NAT ladder (overlay/nat/traversal.ts). */
  private readonly overlayChannel: Channel;
  /** Relays for peers nobody can dial, where links are TCP and links.relayCircuits > 0. */
  private relayServer: RelayServer | undefined;

  constructor(private readonly opts: NodeOptions) {
    this.config = opts.config;
    this.identity = opts.identity;
    if (opts.identity.overlay !== opts.config.overlay) {
      throw new ReloadError(ErrorCode.Incompatible_with_Overlay, `identity is enrolled in overlay "${opts.identity.overlay}", the config is for "${opts.config.overlay}"`);
    }
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? systemRandom;
    this.instanceId = this.random.bytes(PING_RESPONSE_ID_BYTES);
    this.log = (opts.logger ?? silentLogger).child('node');
    for (const p of opts.peerCacheStore?.load() ?? []) this.peerCache.set(p.nodeIdHex, p.address);
    this.trust = opts.trust ?? new TrustStore(opts.config.rootCerts, opts.config.overlay, { signatures: opts.identity.signatures });
    // Checked here, before any socket opens: every peer would refuse this certificate later.
    this.trust.verifyOwn(opts.identity.certDer, this.clock.now());
    const self = { identity: this.identity, trust: this.trust, clock: this.clock };
    this.linkFactory = opts.links?.(self) ?? tlsLinks({ ...self, handshakeTimeoutMs: this.config.links.handshakeTimeoutMs, maxPendingHandshakes: this.config.links.maxPendingHandshakes });
    this.links = new LinkTable({
      maxLinks: opts.config.maxLinks,
      maxLinksPerNode: opts.config.links.maxPerNode,
      now: () => this.clock.now(),
      // The ring's neighbours and fingers: evicting one would tear the overlay the node is in.
      isProtected: (link) => this.topology.table.has(link.remoteNodeId),
      onMessage: (bytes, link) => this.transport.receive(bytes, link),
      onClosed: (link, error) => this.linkClosed(link, error),
      onDropped: (link, reason) => this.linkDropped(link.remoteNodeIdHex, link.remoteAddress, reason),
    });
    this.topology = createTopology(this.topologyHost(), opts.client === true);
    this.transport = new MessageTransport({
      identity: this.identity,
      trust: this.trust,
      config: this.config,
      clock: this.clock,
      log: this.log,
      metrics: this.metrics,
      dispatcher: this.dispatcher,
      policy: topologyPolicy(this.topology.table, this.links, !opts.client),
      includeCertificate: () => !(this.config.certificateReferences && this.certificatePublished),
      random: this.random,
    });
    this.reconnector = new Reconnector({ clock: this.clock, log: this.log, attempt: () => this.rejoin(), random: this.random.next });
    this.kinds = new KindRegistry(this.config.kinds);
    this.storage = new StorageService({
      serving: !opts.client,
      identity: this.identity,
      trust: this.trust,
      config: this.config,
      clock: this.clock,
      log: this.log.child('storage'),
      kinds: this.kinds,
      table: this.topology.table,
      neighbours: () => this.topology.neighbours(),
      request: (dests, code, body, timeoutMs, signing) => this.request(dests, code, body, timeoutMs, signing),
      routesTowards: (resource) => this.routesTowards(resource),
      replicaHolders: async (resource) => (this.config.lookupPaths > 1 ? this.topology.replicaHolders(resource, this.config.storage.replicas) : []),
      backend: opts.storageBackend,
    });
    for (const handler of this.storage.handlers()) this.dispatcher.register(handler);
    this.metrics.addSource(() => storageMetricFamilies(this.storage.engine, this.kinds, this.config.storage.maxBytes));
    this.transport.certificates.setLookup((nodeId) => fetchCertificates(this.storage, nodeId, this.config.hash));
    this.dispatcher.register(pingHandler(this.clock, this.instanceId));
    this.overlayChannel = {
      app: undefined,
      limits: { maxMessageBytes: this.config.maxMessageSize, queueLimit: this.config.linkQueueLimit },
      listenAddress: () => this.listener?.address,
      existing: (peer) => this.links.get(peer),
      dial: (c, peer) => this.dialLink(c.host, c.port, peer),
      adopt: (link) => this.addLink(link, 'outbound'),
    };
    this.traversal = this.newTraversal();
    this.expectedLinks = new LruCache(this.config.maxLinks);
    this.dispatcher.register(
      attachHandler((request, requester) => {
        this.expectedLinks.set(idToHex(requester), this.clock.now() + this.config.links.traversalTimeoutMs);
        return this.traversal.answer(request, requester, this.overlayChannel);
      }),
    );
    this.dispatcher.register(reachabilityHandler((target, peer) => this.traversal.dialBack(target, peer)));
    this.dispatcher.register(relayReserveHandler((link) => this.traversal.serveReservation(link)));
    this.dispatcher.register(
      relayIncomingHandler((link, circuit, source, app) => {
        const channel = app === undefined ? this.overlayChannel : this.applications.servedChannel(app);
        if (!channel) throw new ReloadError(ErrorCode.Not_Found, `application ${app} is not served here`, 'unknown_application');
        this.traversal.acceptCircuit(link, circuit, source, channel);
      }),
    );
    this.dispatcher.register(routeQueryHandler((id) => (this.topology.table.isResponsible(id) ? this.nodeId : (this.topology.table.nextHop(id) ?? this.nodeId))));
    for (const handler of topologyHandlers(() => this.topology, (peer) => this.leaves.set(idToHex(peer), true))) this.dispatcher.register(handler);
    this.applications = new ApplicationChannels({
      config: this.config,
      linkFactory: this.linkFactory,
      traversal: this.traversal,
      connectTimeoutMs: this.opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      request: (dests, code, body) => this.request(dests, code, body),
      dropped: (link, reason, what) => this.linkDropped(link.remoteNodeIdHex, link.remoteAddress, reason, what),
      refused: (address, error, what) => this.connectionRefused(address, error, what),
    });
    this.dispatcher.register(appAttachHandler((app, request, requester) => this.applications.answer(app, request, requester)));
  }

  get nodeId(): Id {
    return this.identity.nodeId;
  }

  get nodeIdHex(): string {
    return this.identity.nodeIdHex;
  }

  get state(): NodeState {
    return this.stateValue;
  }

  /** A peer routes and stores for others; a client does neither (RFC 6940 §3.2). */
  get role(): 'peer' | 'client' {
    return this.opts.client ? 'client' : 'peer';
  }

  /** The bound listen address ("host:port"), once started. */
  get listenAddress(): string | undefined {
    return this.listener ? formatCandidate(this.listener.address) : undefined;
  }

  /** This node's certificate is in the certificate store (stored after joining). */
  get certificateStored(): boolean {
    return this.certificatePublished;
  }

  /** Does this node know the certificate with this SHA-256 fingerprint (hex)? */
  knowsCertificate(fingerprint: string): boolean {
    return this.transport.certificates.get(fingerprint) !== undefined;
  }

  /** Certificates this node fetched from the certificate store so far. */
  get certificatesFetched(): number {
    return this.transport.certificates.fetched;
  }

  /** Routing state of the topology plugin (successors, predecessors, fingers). */
  topologyStatus(): TopologyStatus {
    return this.topology.status();
  }

  /** Registers a method handler (the overlay's own, or a usage's). */
  registerMethod(handler: MethodHandler): void {
    this.dispatcher.register(handler);
  }

  /**
   * Listens, links to the bootstrap nodes (skipping unreachable ones) and joins the overlay. With
   * `retryJoin`, a join that failed for want of an answer is tried again with backoff until it
   * works or `signal` aborts (see join-retry.ts).
   */
  async start(signal?: AbortSignal, { retryJoin = false }: { retryJoin?: boolean } = {}): Promise<void> {
    if (this.stateValue !== 'stopped') throw new Error(`node is ${this.stateValue}`);
    this.stateValue = 'joining';
    try {
      if (this.opts.listen) {
        this.listener = await this.linkFactory.listen({
          ...this.opts.listen,
          maxMessageBytes: this.config.maxMessageSize,
          queueLimit: this.config.linkQueueLimit,
          onLink: (link) => this.addLink(link, 'inbound'),
          onRefused: (addr, error) => this.connectionRefused(addr, error),
        });
        this.log.info(`listening on ${this.listenAddress}`);
        // A client serves nobody (RFC 6940 §3.2): no relaying either.
        if (this.linkFactory.sockets && this.config.links.relayCircuits > 0 && !this.opts.client) await this.startRelay(this.opts.listen.host);
      }
      await joinWithRetries(() => this.joinOnce(signal), { retry: retryJoin, clock: this.clock, log: this.log, random: this.random.next, signal });
      this.storage.start();
      this.stateValue = 'joined';
      const { reachabilityIntervalMs } = this.config.links;
      if (reachabilityIntervalMs > 0) this.reachabilityTimer = this.clock.every(reachabilityIntervalMs, () => void this.traversal.recheck());
      void this.publishCertificate();
      this.log.info('joined');
    } catch (e) {
      await this.stop({ leave: false });
      throw e;
    }
  }

  private async joinOnce(signal?: AbortSignal): Promise<void> {
    const bootstraps = this.bootstrapAddresses();
    const linked = await this.linkBootstraps();
    if (bootstraps.length > 0 && linked.length === 0) {
      throw new ReloadError(ErrorCode.Not_Found, `none of the ${bootstraps.length} bootstrap nodes could be reached`, 'no_bootstrap');
    }
    // Before the topology's Attaches: they say whether this node can be dialled.
    await this.traversal.check(linked);
    if (this.opts.clientIfUnreachable && !this.opts.client && this.traversal.status.dialable === false && !this.traversal.relayStatus) {
      throw new ReloadError(ErrorCode.Forbidden, 'this node cannot be dialled and found no relay: peers behind NATs could not link to it, so it can take part only as a client', 'unreachable_peer');
    }
    this.log.info(linked.length ? 'joining the overlay' : 'no bootstrap node: starting a new overlay');
    await this.topology.join(signal);
  }

  /**
   * Leaves the overlay (Leave to the neighbours, unless `leave` is false: a crash as the ring sees
   * it) and closes every link and listener.
   */
  async stop({ leave = true }: { leave?: boolean } = {}): Promise<void> {
    if (this.stateValue === 'stopped' || this.stateValue === 'leaving') return;
    const wasJoined = this.stateValue === 'joined';
    this.stateValue = 'leaving';
    this.reconnector.stop();
    this.traversal.stop();
    this.publishRetry?.cancel();
    this.publishRetry = undefined;
    this.reachabilityTimer?.cancel();
    this.reachabilityTimer = undefined;
    this.storage.stop();
    if (wasJoined && leave) await this.topology.leave();
    this.topology.stop();
    this.transport.close();
    await this.applications.closeAll();
    await this.listener?.close();
    this.listener = undefined;
    await this.relayServer?.close();
    this.relayServer = undefined;
    this.links.closeAll();
    this.stateValue = 'stopped';
  }

  /** Opens a link to a node, optionally requiring its Node-ID. */
  async connect(host: string, port: number, expectedNodeId?: Id): Promise<Link> {
    const link = await this.dialLink(host, port, expectedNodeId);
    if (!this.addLink(link, 'outbound')) throw new ReloadError(ErrorCode.Forbidden, `no room for a link to ${link.remoteNodeIdHex} in this node's connection table`, 'link_refused');
    return link;
  }

  /** Dials a node, refusing our own Node-ID at the far end; the link is not in the table yet. */
  private async dialLink(host: string, port: number, expectedNodeId?: Id): Promise<Link> {
    const link = await this.linkFactory.dial({
      host,
      port,
      maxMessageBytes: this.config.maxMessageSize,
      queueLimit: this.config.linkQueueLimit,
      expectedNodeId,
      timeoutMs: this.opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    });
    if (idEquals(link.remoteNodeId, this.nodeId)) {
      // Our own Node-ID answers at that address: another process runs this identity.
      link.close();
      throw duplicateNodeId(this.nodeIdHex);
    }
    return link;
  }

  /** Links in use, one per remote node. */
  linkList(): Link[] {
    return this.links.links();
  }

  /**
   * Sends a request through the overlay and waits for its verified answer (see MessageTransport).
   * Refused with Not_Found `not_in_overlay` while the node is disconnected: its emptied routing
   * table would deliver every Resource-ID to itself (a store would answer replicas=0 and be lost).
   */
  async request(destinations: Destination[], code: number, body: unknown, timeoutMs?: number, signing?: SigningOptions): Promise<Response> {
    if (this.stateValue === 'disconnected') {
      throw new ReloadError(ErrorCode.Not_Found, 'this node is not in the overlay: it lost every link and is getting back in (state disconnected)', 'not_in_overlay');
    }
    return this.transport.request(destinations, code, body, timeoutMs, signing);
  }

  /** Pings a Node-ID (hex or bytes) through the overlay. */
  async ping(destination: Id | string, timeoutMs?: number): Promise<{ rttMs: number; hops: number; responder: string }> {
    const id = typeof destination === 'string' ? parseNodeId(destination) : destination;
    const res = await this.request([{ type: 'node', id }], MessageCode.PingReq, pingRequestBody(), timeoutMs);
    parsePingAnswer(res.body);
    return { rttMs: res.rttMs, hops: res.hops, responder: res.signer.identity.nodeIdHex };
  }

  /**
   * Opens a direct link to whichever node `destination` reaches (Attach, RFC 6940 §6.5.1), through
   * `via` if given. Resolves with the existing link when there is one already.
   */
  async attach(destination: Destination, via?: Id): Promise<Link> {
    // A node we hold a link to needs no Attach: that link is what the Attach would set up.
    const linked = destination.type === 'node' ? this.links.get(destination.id) : undefined;
    if (linked) return linked;
    const prepared = await this.traversal.prepare();
    const { peer, answer } = await this.attachRequest(destination, via, prepared.offer);
    const existing = this.links.get(peer);
    if (existing) return existing;
    return this.traversal.link(peer, answer, prepared, this.overlayChannel);
  }

  /**
   * Attach without the link: learns which node `destination` reaches and where it listens, and
   * keeps it in the peer cache (RFC 6940 §11.4) as a spare way back into the overlay.
   */
  async lookUp(destination: Destination, via?: Id): Promise<{ peer: Id; candidates: BootstrapNode[] }> {
    const { peer, answer } = await this.attachRequest(destination, via, undefined);
    return { peer, candidates: answer.candidates };
  }

  /** How a link was made: dialled, reversed, punched or relayed (overlay/nat/traversal.ts). */
  linkMechanism(link: Link): LinkMechanism {
    return this.traversal.mechanism(link);
  }

  /** How long making a link this node asked for took, ms (undefined for links others made to it). */
  linkSetupMs(link: Link): number | undefined {
    return this.traversal.setupMs(link);
  }

  /** What this node learned of its own reachability at join, and the relay it reserved at if any (overlay/nat/). */
  get reachability(): ReachabilityStatus & { relay: { nodeId: string; address: string } | null } {
    return { ...this.traversal.status, relay: this.traversal.relayStatus };
  }

  /** Bytes this node's relay carried for others. */
  get bytesRelayed(): number {
    return this.relayServer?.bytesRelayed ?? 0;
  }

  private async startRelay(host: string): Promise<void> {
    const relay = new RelayServer({
      host,
      port: this.config.links.relayPort,
      clock: this.clock,
      log: this.log.child('relay'),
      limits: this.config.links,
      notify: async (link, circuit, source, app) => {
        await this.transport.requestOn(link, MessageCode.RelayIncomingReq, relayIncomingBody(circuit, source, app), this.config.links.traversalTimeoutMs);
      },
    });
    await relay.listen();
    this.relayServer = relay;
    this.log.info(`relaying for peers behind NATs on port ${relay.port}`);
  }

  private async attachRequest(destination: Destination, via: Id | undefined, traversal: TraversalOffer | undefined): Promise<{ peer: Id; answer: AttachAnswer }> {
    const path: Destination[] = via ? [{ type: 'node', id: via }, destination] : [destination];
    const res = await this.transport.request(path, MessageCode.AttachReq, attachRequestBody(this.traversal.candidates(this.overlayChannel), traversal));
    const peer = res.signer.identity.nodeId;
    if (idEquals(peer, this.nodeId)) throw new ReloadError(ErrorCode.Invalid_Message, 'Attach reached this node itself', 'attach_to_self');
    const answer = parseAttachAnswer(res.body);
    if (answer.candidates[0]) this.rememberPeer(idToHex(peer), answer.candidates[0]);
    return { peer, answer };
  }

  private newTraversal(): Traversal {
    const limits = this.overlayChannel.limits;
    const timeoutMs = this.config.links.traversalTimeoutMs;
    const sockets = this.linkFactory.sockets;
    return new Traversal({
      self: this.identity.nodeId,
      clock: this.clock,
      log: this.log.child('nat'),
      config: this.config.links,
      overlay: this.overlayChannel,
      dialAndClose: async (target, peer) => {
        const link = await this.linkFactory.dial({ ...target, ...limits, expectedNodeId: peer, timeoutMs: this.config.links.dialBackTimeoutMs });
        link.close();
      },
      sockets: sockets && {
        reservePort: () => sockets.reservePort(),
        punch: (to, from, peer, tlsServer, channelLimits, spray) => sockets.punch({ ...to, ...channelLimits, localPort: from, expectedNodeId: peer, tlsServer, timeoutMs, ...(spray ? { spray } : {}) }),
        secure: (raw, far, peer, tlsServer, channelLimits) => sockets.secure(raw, { ...far, ...channelLimits, expectedNodeId: peer, tlsServer, timeoutMs }),
      },
      relay: () => this.relayServer,
      ask: (link, code, body, timeoutMs) => this.transport.requestOn(link, code, body, timeoutMs),
      links: () => this.links.links(),
    });
  }

  /**
   * Serves an application's own channel (RFC 6940 §6.5.2): a TLS listener with this node's
   * certificate that accepts only enrolled nodes of this overlay, found by others with AppAttach.
   * Closed with the node.
   */
  serveApplication(app: number, opts: ServeOptions): Promise<{ address: string; close(): Promise<void> }> {
    return this.applications.serve(app, opts);
  }

  /** Opens an application channel to a node: AppAttach through the overlay, then the NAT ladder. */
  connectApplication(peer: Id, app: number, opts: { maxMessageBytes: number; queueLimit: number }): Promise<Link> {
    return this.applications.connect(peer, app, opts);
  }

  /**
   * Finds the node responsible for a Resource-ID (RouteQuery routed to it) and the hops to it. Over
   * `paths` routes, the RouteQuery also goes through each of the `paths` closest nodes the topology
   * finds by asking (Kademlia's FIND_NODE), which a peer on the routes cannot steer.
   */
  async route(resource: Id, timeoutMs?: number, paths = this.config.lookupPaths): Promise<{ resource: string; responsible: string; hops: number; rttMs: number }> {
    const send = async (destinations: Destination[]) => {
      const res = await this.request(destinations, MessageCode.RouteQueryReq, [false, [2, resource]], timeoutMs);
      const answered = parseRouteQueryAnswer(res.body);
      if (!idEquals(answered, res.signer.identity.nodeId)) throw new ReloadError(ErrorCode.Invalid_Message, 'RouteQuery was answered for another node', 'wrong_responder');
      return res;
    };
    // The closest the lookup found may be a liar's accomplice (the owner was never named to us);
    // the next ones, reached by chains of honest nodes, hand the query on from near the owner.
    const throughFound = async () => {
      const found = (await this.topology.replicaHolders(resource, paths)).filter((h) => !idEquals(h.id, this.nodeId));
      return found.length > 0 ? answersOnEveryRoute(found.flatMap((h) => holderRoutes(h, { type: 'resource', id: resource })), send) : [];
    };
    const answers = await withAnswersBeside(answersOnEveryRoute(this.routesTowards(resource, paths), send), paths > 1 ? throughFound() : Promise.resolve([]));
    // Over several routes, the answer signed by the best owner wins: a peer on the way that
    // answers in the owner's place cannot sign as a node closer to the resource than itself.
    const table = this.topology.table;
    const best = answers.reduce((a, b) => (table.compareOwners(b.signer.identity.nodeId, a.signer.identity.nodeId, resource) < 0 ? b : a));
    return { resource: idToHex(resource), responsible: best.signer.identity.nodeIdHex, hops: best.hops, rttMs: best.rttMs };
  }

  /** Destination lists for a lookup of `resource`: `paths` routes through different first hops (routing/paths.ts). */
  routesTowards(resource: Id, paths = this.config.lookupPaths): Destination[][] {
    return routesTowards(this.topology.table, (peer) => this.links.get(peer) !== undefined, resource, paths);
  }

  private rememberPeer(nodeIdHex: string, address: BootstrapNode): void {
    this.peerCache.set(nodeIdHex, address);
    this.opts.peerCacheStore?.save([...this.peerCache.entries()].map(([id, a]) => ({ nodeIdHex: id, address: a })));
  }

  /** Configured and command-line bootstrap nodes, without this node's own address. */
  private bootstrapAddresses(): BootstrapNode[] {
    const own = this.listener?.address;
    return [...this.config.bootstrap, ...(this.opts.bootstrap ?? [])].filter((b) => !(own && b.port === own.port && b.host === own.host));
  }

  /**
   * Links to bootstrap nodes until `links.reachabilityPeers` of them (at least one) are linked: one
   * to enter through, and as many as the reachability check asks. Not to every one: each bootstrap
   * node would then hold a link from every newcomer, and in a crowd of newcomers (more than its
   * `maxLinks`) evict the links others are still joining through. In the configured order: when
   * all the nodes of an overlay start at once (a restart), each enters through the first one it
   * reaches, so the overlay forms around one node instead of several rings. Those already linked
   * come first, so that asking again (the topology's join after the reachability check) links no
   * more. Unreachable ones are skipped; with none reachable, peers met before are tried
   * (RFC 6940 §11.4).
   */
  private async linkBootstraps(): Promise<Link[]> {
    const wanted = Math.max(1, this.config.links.reachabilityPeers);
    const links: Link[] = [];
    const existing = (b: BootstrapNode) => {
      const known = this.bootstrapIds.get(formatCandidate(b));
      return known && this.links.get(known);
    };
    const tryLink = async (b: BootstrapNode, what: string) => {
      const key = formatCandidate(b);
      const linked = existing(b);
      if (linked) return links.push(linked);
      try {
        const link = await this.connect(b.host, b.port);
        this.bootstrapIds.set(key, link.remoteNodeId);
        this.log.info(`linked to ${what} ${key} (node ${link.remoteNodeIdHex})`);
        links.push(link);
      } catch (e) {
        if (isReloadError(e) && e.reason === 'duplicate_node_id') throw e;
        this.log.warn(`skipping ${what} ${key}: ${(e as Error).message}`);
      }
    };
    const linkSome = async (candidates: BootstrapNode[], what: string) => {
      for (const b of candidates) if (links.length < wanted) await tryLink(b, what);
    };
    const configured = this.bootstrapAddresses();
    await linkSome([...configured.filter((b) => existing(b)), ...configured.filter((b) => !existing(b))], 'bootstrap');
    if (links.length === 0) await linkSome([...this.peerCache.values()], 'cached peer');
    return links;
  }

  private topologyHost(): TopologyHost {
    return {
      self: this.identity.nodeId,
      config: this.config,
      clock: this.clock,
      random: this.random,
      log: this.log.child('topology'),
      // The topology's own messages, also while joining and getting back in.
      request: (dests, code, body, timeoutMs) => this.transport.request(dests, code, body, timeoutMs),
      linkTo: (id) => this.links.get(id),
      // Getting back in, a peer that linked to us will do when no bootstrap node answers.
      bootstrapLinks: async () => {
        const boots = await this.linkBootstraps();
        return boots.length > 0 || this.stateValue !== 'disconnected' ? boots : this.links.links();
      },
      attach: (dest, via) => this.attach(dest, via),
      lookUp: async (dest, via) => (await this.lookUp(dest, via)).peer,
      tableChanged: () => this.tableChanged(),
    };
  }

  /**
   * Stores this node's certificate in the certificate store (RFC 6940 §8), so others can look it
   * up; a failed store (the ring still settling) is tried again with backoff while the node runs.
   */
  private async publishCertificate(backoff = new Backoff({ initialMs: RECONNECT_INITIAL_MS, maxMs: RECONNECT_MAX_MS, random: this.random.next })): Promise<void> {
    try {
      await publishCertificate(this.storage, this.identity, this.config.hash);
      this.certificatePublished = true;
    } catch (e) {
      if (this.stateValue !== 'joined' && this.stateValue !== 'disconnected') return;
      const waitMs = backoff.next();
      this.log.warn(`could not store this node's certificate: ${(e as Error).message}; trying again in ${(waitMs / 1000).toFixed(1)} s`);
      this.publishRetry = this.clock.after(waitMs, () => void this.publishCertificate(backoff));
    }
  }

  /** Responsibilities may have moved: storage re-checks its replica sets. */
  private tableChanged(): void {
    if (this.stateValue === 'joined') this.storage.topologyChanged();
  }

  private linkClosed(link: Link, error?: Error): void {
    this.log.info(`link to ${link.remoteNodeIdHex} closed${error ? `: ${error.message}` : ''}`);
    if (this.links.get(link.remoteNodeId) || this.stateValue === 'leaving' || this.stateValue === 'stopped') return;
    const failed = !this.leaves.delete(link.remoteNodeIdHex);
    const inRing = this.topology.table.has(link.remoteNodeId);
    this.topology.onLinkDown(link.remoteNodeId);
    if (this.stateValue !== 'joined' || this.links.links().length > 0) return;
    // The last link is gone. A node that came in through bootstrap nodes, or whose last peer
    // failed rather than left, has lost the overlay rather than become all of it; a peer that was
    // never in its ring (a newcomer that gave up its join, a client) takes no overlay with it.
    if ((!failed || !inRing) && this.bootstrapAddresses().length === 0) {
      this.log.info('every peer has left: this node is the overlay now');
      return;
    }
    this.stateValue = 'disconnected';
    this.log.warn('lost every link: not in the overlay; trying the bootstrap nodes and cached peers until it is back');
    this.reconnector.start();
  }

  /**
   * One attempt to get back into the overlay: through the links we have (a peer may have linked
   * to us), else the bootstrap nodes and then cached peers; then the topology joins again.
   */
  private async rejoin(): Promise<void> {
    if (this.stateValue !== 'disconnected') return;
    const links = this.links.links().length > 0 ? this.links.links() : await this.linkBootstraps();
    if (links.length === 0) throw new ReloadError(ErrorCode.Not_Found, 'no bootstrap node or cached peer answers', 'no_bootstrap');
    await this.topology.join();
    if (this.stateValue !== 'disconnected') return;
    if (this.links.links().length === 0) throw new ReloadError(ErrorCode.Not_Found, 'lost the links again while joining', 'no_links');
    this.stateValue = 'joined';
    this.storage.topologyChanged();
    this.log.info('back in the overlay: joined again');
  }

  /** Takes a new link into the table; false when it was refused (and closed). */
  private addLink(link: Link, direction: 'inbound' | 'outbound'): boolean {
    if (this.stateValue === 'leaving' || this.stateValue === 'stopped') {
      link.close();
      return false;
    }
    if (idEquals(link.remoteNodeId, this.nodeId)) {
      this.metrics.countError(ErrorCode.Forbidden, 'duplicate_node_id');
      this.log.warn(`refused a link from ${link.remoteAddress} that authenticated as this node's own Node-ID (another process runs this identity?)`);
      link.close(duplicateNodeId(this.nodeIdHex));
      return false;
    }
    // The link's handshake authenticated the peer's certificate: messages it signs may omit it.
    if (link.peerCertificate) this.transport.certificates.remember(link.peerCertificate.der);
    const current = this.links.get(link.remoteNodeId);
    if (!this.links.add(link)) return false;
    if (current) this.admitSecondLink(current, link);
    else {
      this.log.info(`link up with ${link.remoteNodeIdHex} (${link.remoteUser}) at ${link.remoteAddress}`);
      if (direction === 'inbound') this.greet(link);
    }
    this.traversal.claim(link, undefined);
    // A peer reached us while we were out: try to get back in through it now.
    if (this.stateValue === 'disconnected') this.reconnector.soon();
    return true;
  }

  /**
   * A peer that linked to us must send a frame within the greeting timeout: a connection that
   * completed its handshake and then stays silent holds a slot for nothing. A peer still silent
   * halfway through gets our Ping, so an honest dialer that has nothing to say yet answers it; one
   * that speaks first (nearly every dialer: it linked to send something) costs no Ping. Any frame
   * will do, so a peer slow to answer under load but already talking is not taken for silent.
   * A peer whose Attach this node just answered is not greeted: it proved itself with a signed
   * request, may have nothing to say yet (a Chord node linking to a new finger), and holds at
   * most `links.maxPerNode` links; a Ping on each such link was about one frame in twelve in
   * a simulated 2,000-node overlay.
   */
  private greet(link: Link): void {
    const expectedUntil = this.expectedLinks.get(link.remoteNodeIdHex);
    if (expectedUntil !== undefined) {
      this.expectedLinks.delete(link.remoteNodeIdHex);
      if (expectedUntil >= this.clock.now()) return;
    }
    const timeoutMs = this.config.links.greetingTimeoutMs;
    const halfMs = Math.floor(timeoutMs / 2);
    let timer = this.clock.after(halfMs, () => {
      if (!this.greeting(link)) return;
      this.transport.requestOn(link, MessageCode.PingReq, pingRequestBody(), timeoutMs - halfMs).catch(() => {});
      timer = this.clock.after(timeoutMs - halfMs, () => {
        link.off('message', heard);
        if (!this.greeting(link)) return;
        this.linkDropped(link.remoteNodeIdHex, link.remoteAddress, 'silent');
        link.close(new ReloadError(ErrorCode.Request_Timeout, `no frame within ${timeoutMs} ms of linking`, 'silent'));
      });
    });
    // Whichever comes first ends the greeting and removes the other listener: a close listener left
    // on a link for its whole life keeps this closure and its spent timer (half a KB per link).
    const heard = () => {
      timer.cancel();
      link.off('close', closed);
    };
    const closed = () => {
      timer.cancel();
      link.off('message', heard);
    };
    link.once('message', heard);
    link.once('close', closed);
  }

  /** Is a link still worth greeting (open, and this node running)? */
  private greeting(link: Link): boolean {
    return link.open && this.stateValue !== 'stopped' && this.stateValue !== 'leaving';
  }

  /** A link refused or closed by a limit: counted by reason and logged. */
  private linkDropped(nodeIdHex: string, address: string, reason: string, what = 'link'): void {
    this.metrics.countLinkDrop(reason);
    this.log.warn(`${what}: dropped a link from ${nodeIdHex} at ${address} (${reason})`);
  }

  /** A connection refused before it became a link (handshake, certificate, handshake limits). */
  private connectionRefused(address: string, error: Error, what = 'overlay'): void {
    const reloadError = isReloadError(error) ? error : undefined;
    this.metrics.countError(reloadError?.code ?? ErrorCode.Forbidden, 'link_refused');
    this.metrics.countLinkDrop(reloadError?.reason ?? 'tls_error');
    this.log.warn(`${what}: refused a connection from ${address}: ${error.message}`);
  }

  /**
   * A second link for a Node-ID that has one (see routing/link-admission.ts). Until judged, the
   * first stays in use, so a second process with the same identity cannot take a node's place.
   */
  private admitSecondLink(old: Link, fresh: Link): void {
    const judged = admitSecondLink(old, fresh, {
      clock: this.clock,
      log: this.log,
      metrics: this.metrics,
      probe: async (link) => parsePingAnswer((await this.transport.requestOn(link, MessageCode.PingReq, pingRequestBody(), LINK_PROBE_TIMEOUT_MS)).body).responseId,
      refuseLink: (link, error) => this.transport.refuseLink(link, error),
      refusalGraceMs: 2 * this.config.reliabilityTimerMs,
      running: () => this.stateValue !== 'leaving' && this.stateValue !== 'stopped',
    });
    // A newcomer that replaced a dead link may be as silent as the one it replaced.
    void judged.then(() => {
      if (!old.open && fresh.open) this.greet(fresh);
    });
  }
}

export function parseNodeId(text: string): Id {
  if (!isHexId(text)) throw new ReloadError(ErrorCode.Invalid_Message, `"${text}" is not a Node-ID (32 hex digits)`, 'bad_node_id');
  return idFromHex(text);
}
