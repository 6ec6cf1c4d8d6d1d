/**
 * The data plane of the PPSP usage: a direct mutual-TLS data channel per peer pair, opened with
 * AppAttach (RFC 6940 §6.5.2) under our own Application-ID, carrying the PPSP data messages
 * (data-messages.ts). Incoming channels are routed to a Swarm by their HANDSHAKE; `seed` and
 * `download` start swarms. Peer discovery is injected (`peers`), to be fed by the tracker kind.
 */
import { type Clock, idFromHex, invalidMessage, type Link, type Logger, type Node, silentLogger, systemClock } from '../../../overlay/index.js';
import type { Usage } from '../../usage.js';
import type { Availability } from '../content/availability.js';
import { hashFile, type HashedFile } from '../content/chunker.js';
import { mediaInfoOfFile } from '../content/media-info.js';
import { TokenBucket, type NodeRateLimits } from './rate-limit.js';
import { fileIdentity, identityChange, type FileIdentity } from '../store/seed-file-guard.js';
import { PeerSession, type SessionHost, type SessionRole } from './peer-session.js';
import { BEFORE_HANDSHAKE, decodeDataMessage } from './data-messages.js';
import { LiveSession, type LiveSessionHost } from '../live/live-session.js';
import { DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE, parseSwarmId, swarmMetadataOf, type SwarmMetadata } from '../content/swarm-id.js';
import { Swarm, type PeerRef, type SwarmOptions } from './swarm.js';

/** Our Application-ID for AppAttach, from the private range 61441..65534 (RFC 6940 §14.5). */
export const PPSP_DATA_APP_ID = 61901;
/** Largest data-channel frame: a 1 MiB chunk (the largest chunk size) plus header and proof. */
export const DEFAULT_MAX_FRAME_BYTES = MAX_CHUNK_SIZE + 4096;
/** Frames a channel queues while its socket is congested before it drops them. */
export const DEFAULT_QUEUE_LIMIT = 1024;

export interface PpspDataUsageOptions {
  /** Address the data channel listens on; default 127.0.0.1. */
  host?: string;
  /** Port; default 0 (any free one). */
  port?: number;
  /** See DEFAULT_MAX_FRAME_BYTES. */
  maxFrameBytes?: number;
  /** See DEFAULT_QUEUE_LIMIT. */
  queueLimit?: number;
  clock?: Clock;
  log?: Logger;
  /** Defaults for every swarm this usage starts; per-call options override them. */
  swarm?: SwarmOptions;
  /** Serve a direct TLS data channel (default true); without it peers reach us by relay only. */
  directChannel?: boolean;
  /** Hashes a file to seed; default hashFile (tests count the calls). */
  hasher?: (path: string, chunkSize: number) => Promise<HashedFile>;
  /** Upload limit of the whole node, bytes/s; default 0 (none). */
  uploadLimit?: number;
  /** Download limit of the whole node, bytes/s; default 0 (none). */
  downloadLimit?: number;
  /**
   * Wraps every data-channel link, answered or dialled, before a session uses it: how simulations
   * and benchmarks put delay, jitter and loss on the data plane (FaultyLink).
   */
  wrapLink?: (link: Link) => Link;
}

/**
 * Opens a data channel to a peer for a swarm; `direct` is the TLS channel by AppAttach. The PPSP
 * usage plugs transport negotiation in here (seed §4.5).
 */
export type Dialer = (peer: string, swarmId: string, direct: () => Promise<Link>) => Promise<Link>;

/** Options of `seed`. */
export interface SeedOptions extends SwarmOptions {
  /** Bytes per chunk; default DEFAULT_CHUNK_SIZE (16 KiB). */
  chunkSize?: number;
  /** The media type players are told (Content-Type); default the one the file's extension names. */
  mediaType?: string;
  /** Its data may travel only over tls (privacy, seed §4.6.1): a swarm of its own, whose ID says so. */
  tlsOnly?: boolean;
}

/** Options of `download`. */
export interface DownloadOptions extends SwarmOptions {
  /** Where members come from (the tracker's list, or known Node-IDs). */
  peers: () => Promise<PeerRef[]>;
}

export class PpspDataUsage implements Usage {
  readonly name = 'ppsp-data';
  private node: Node | undefined;
  private served: { address: string; close(): Promise<void> } | undefined;
  private readonly swarms = new Map<string, Swarm>();
  private readonly clock: Clock;
  private readonly nodeLimits: NodeRateLimits;
  private readonly log: Logger;
  private dialer: Dialer | undefined;
  private liveHosts: (swarmId: string, peer: string) => LiveSessionHost | undefined = () => undefined;

  constructor(private readonly options: PpspDataUsageOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.log = (options.log ?? silentLogger).child('ppsp:data');
    this.nodeLimits = { upload: new TokenBucket(options.uploadLimit ?? 0, this.clock), download: new TokenBucket(options.downloadLimit ?? 0, this.clock) };
  }

  attach(node: Node): void {
    this.node = node;
  }

  /** How channels are opened; by default the direct TLS channel. */
  setDialer(dialer: Dialer): void {
    this.dialer = dialer;
  }

  /** Where an answered channel that names a live swarm goes (the PPSP usage holds the live swarms). */
  setLiveHosts(find: (swarmId: string, peer: string) => LiveSessionHost | undefined): void {
    this.liveHosts = find;
  }

  /**
   * Opens a data channel to `peer` for live swarm `host.swarmId`, by the same dialer as any other;
   * resolves once the peer answered the handshake, rejects if it refused.
   */
  async connectLive(peer: string, host: LiveSessionHost): Promise<void> {
    const link = await this.dial(peer, host.swarmId);
    await new LiveSession(link, { role: 'dialler', host }, this.log, this.clock).handshake;
  }

  /** A channel another transport (the overlay relay) accepted: handled like a TLS one. */
  acceptLink(link: Link): void {
    this.answer(link);
  }

  /** Serves the data channel (AppAttach answers name this listener). */
  async start(): Promise<void> {
    const node = this.requireNode();
    if (this.options.directChannel === false) return;
    this.served = await node.serveApplication(PPSP_DATA_APP_ID, {
      host: this.options.host ?? '127.0.0.1',
      port: this.options.port ?? 0,
      maxMessageBytes: this.maxFrameBytes,
      queueLimit: this.options.queueLimit ?? DEFAULT_QUEUE_LIMIT,
      onLink: (link) => this.answer(link),
    });
    this.log.info(`data channel on ${this.served.address}`);
  }

  /** Stops every swarm (partial downloads stay resumable) and the listener. */
  async stop(): Promise<void> {
    const swarms = [...this.swarms.values()];
    this.swarms.clear();
    await Promise.all(swarms.map((s) => s.stop()));
    await this.served?.close().catch(() => {});
    this.served = undefined;
  }

  /** Where the data channel listens ("127.0.0.1:PORT"), once started. */
  get address(): string | undefined {
    return this.served?.address;
  }

  /** The swarm with this ID, if seeded or downloaded here. */
  swarm(swarmId: string): Swarm | undefined {
    return this.swarms.get(parseSwarmId(swarmId));
  }

  /** What we hold of a swarm, for the signalling usage's availability answers (setLocalAvailability). */
  availability(swarmId: string): Availability | undefined {
    return this.swarms.get(swarmId)?.availability();
  }

  /** What a peer told us it holds (setPeerHasChunk); undefined when we do not know. */
  peerHasChunk(swarmId: string, peer: string, chunk: number): boolean | undefined {
    return this.swarms.get(swarmId)?.peerHasChunk(peer, chunk);
  }

  /** Every swarm seeded or downloaded here (running; a stopped one is forgotten). */
  list(): Swarm[] {
    return [...this.swarms.values()];
  }

  /** Hashes the file at `path` and seeds it; returns the metadata a leecher needs (or just its ID). */
  async seed(path: string, options: SeedOptions = {}): Promise<SwarmMetadata> {
    const media = mediaInfoOfFile(path, options.mediaType);
    const before = await fileIdentity(path);
    const raw = await (this.options.hasher ?? hashFile)(path, options.chunkSize ?? DEFAULT_CHUNK_SIZE);
    const { rootHash, contentLength, chunkSize } = raw.metadata;
    const hashed = options.tlsOnly ? { ...raw, metadata: swarmMetadataOf(rootHash, contentLength, chunkSize, true) } : raw;
    // Leaf hashes of a file written to while it was read match neither its old nor its new content.
    const change = identityChange(before, await fileIdentity(path));
    if (change) throw invalidMessage(`${path} changed while it was hashed (${change}); seed it again once it is written`, 'file_changed');
    await this.serve(path, hashed, before, options, media);
    return hashed.metadata;
  }

  /**
   * Seeds `path` from leaf hashes made earlier when the file had `identity` (a restart), without
   * reading it; the caller checked the file still has that identity. Returns the swarm (the one
   * running already if any).
   */
  async serve(path: string, hashed: HashedFile, identity: FileIdentity, options: SwarmOptions = {}, media = mediaInfoOfFile(path)): Promise<Swarm> {
    const id = hashed.metadata.swarmId;
    const running = this.swarms.get(id);
    if (running) return running;
    return this.track(await Swarm.seed(path, hashed, identity, this.context(id), { ...this.swarmDefaults(), ...options }, media));
  }

  /**
   * Downloads a swarm into `out` (resuming `out.part` if present) from the peers `options.peers`
   * names; from a bare swarm ID the metadata comes from the first answer, checked against the ID.
   */
  download(target: SwarmMetadata | string, out: string, options: DownloadOptions): Swarm {
    const id = parseSwarmId(typeof target === 'string' ? target : target.swarmId);
    if (this.swarms.has(id)) throw new Error(`swarm ${id} is running here already`);
    const { peers, ...rest } = options;
    return this.track(Swarm.download(target, out, this.context(id, peers), { ...this.swarmDefaults(), ...rest }));
  }

  /**
   * Holds a swarm until it stops, however it stops (its owner, a download that failed, a seeded
   * file that changed): a stopped swarm left here would answer for its ID and wedge every later
   * seed or download of it until a restart.
   */
  private track(swarm: Swarm): Swarm {
    this.swarms.set(swarm.swarmId, swarm);
    swarm.once('stopped', () => {
      if (this.swarms.get(swarm.swarmId) === swarm) this.swarms.delete(swarm.swarmId);
    });
    return swarm;
  }

  /**
   * An answered channel: its first frame (HANDSHAKE) says which swarm it is for, and whether that is
   * a live one (a live session) or a file (a peer session, which reads that frame itself).
   */
  private answer(raw: Link): void {
    const link = this.wrap(raw);
    link.once('message', (first) => {
      const live = this.liveHostFor(first, link.remoteNodeIdHex);
      if (live) return void new LiveSession(link, { role: 'answerer', host: live }, this.log, this.clock);
      this.answerStatic(link).receive(first);
    });
  }

  private liveHostFor(first: Uint8Array, peer: string): LiveSessionHost | undefined {
    try {
      const m = decodeDataMessage(first, BEFORE_HANDSHAKE);
      return m.type === 'handshake' ? this.liveHosts(Buffer.from(m.swarmId).toString('hex'), peer) : undefined;
    } catch {
      return undefined; // the peer session answers the bad frame with ERROR
    }
  }

  private answerStatic(link: Link): PeerSession {
    return this.openSession(link, {
      role: 'answerer',
      resolve: (swarmId, peer) => {
        const swarm = this.swarms.get(swarmId);
        return swarm?.accepts(peer) ? swarm : undefined;
      },
    });
  }

  /** The one place peer sessions are made, for channels we answer and those we dial. */
  private openSession(link: Link, role: SessionRole): PeerSession {
    return new PeerSession(link, role, { log: this.log, clock: this.clock });
  }

  /** A data channel to `peer` for `swarmId`, by the dialer (transport negotiation) or directly. */
  private async dial(peer: string, swarmId: string): Promise<Link> {
    const direct = this.directDial(peer);
    return this.wrap(await (this.dialer ? this.dialer(peer, swarmId, direct) : direct()));
  }

  private wrap(link: Link): Link {
    return this.options.wrapLink ? this.options.wrapLink(link) : link;
  }

  private directDial(peer: string): () => Promise<Link> {
    return () =>
      this.requireNode().connectApplication(idFromHex(peer), PPSP_DATA_APP_ID, {
        maxMessageBytes: this.maxFrameBytes,
        queueLimit: this.options.queueLimit ?? DEFAULT_QUEUE_LIMIT,
      });
  }

  private context(swarmId: string, peers?: () => Promise<PeerRef[]>) {
    const node = this.requireNode();
    return {
      localNodeId: node.nodeIdHex,
      peers,
      nodeLimits: this.nodeLimits,
      random: node.random.next,
      connect: async (peer: string, host: SessionHost) => {
        const link = await this.dial(peer, swarmId);
        this.openSession(link, { role: 'dialler', swarmId, host });
      },
    };
  }

  /** The node-wide rate limits (bytes/s, 0: none). */
  get limits(): { uploadLimit: number; downloadLimit: number } {
    return { uploadLimit: this.nodeLimits.upload.rate, downloadLimit: this.nodeLimits.download.rate };
  }

  /** Changes the node-wide rate limits at once, for every swarm. */
  setLimits(limits: { uploadLimit?: number; downloadLimit?: number }): void {
    if (limits.uploadLimit !== undefined) this.nodeLimits.upload.rate = limits.uploadLimit;
    if (limits.downloadLimit !== undefined) this.nodeLimits.download.rate = limits.downloadLimit;
    for (const swarm of this.swarms.values()) swarm.limitsChanged();
  }

  private swarmDefaults(): SwarmOptions {
    return { clock: this.clock, log: this.options.log, ...this.options.swarm };
  }

  private get maxFrameBytes(): number {
    return this.options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  }

  private requireNode(): Node {
    if (!this.node) throw new Error('the PPSP data usage is not attached to a node');
    return this.node;
  }
}
