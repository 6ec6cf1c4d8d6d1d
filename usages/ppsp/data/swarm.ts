/**
 * One swarm on one peer (seed §4.4, RFC 7574 §9): the data sessions to other members, the piece
 * picker across them (rarest first, end game, re-issue after a timeout, a CHOKE or a departure),
 * the choker over our upload slots, and the chunk store on disk.
 *
 * A seeder opens its complete file and already holds the leaf hashes (hashFile). A leecher learns
 * the metadata from the first answer if it only knows the swarm ID, opens its download (resuming:
 * chunks verified on disk are never fetched again), obtains every leaf hash from one peer and checks
 * they rebuild the root (leaf-hashes.ts), and only then advertises what it holds and requests. Every
 * DATA is checked against its trusted leaf hash before it is stored; a peer that sends a
 * bad chunk gets a strike, and at `maxStrikes` it is dropped and never dialled or accepted again in
 * this download. Every peer uploads what it holds while it downloads, through its choker.
 *
 * Peers are found by an injected `peers()` source (the tracker, later; known Node-IDs in tests) and
 * reached by an injected `dial` (AppAttach in the usage). Time comes from an injected clock.
 */
import { EventEmitter } from 'node:events';
import { type Clock, ErrorCode, invalidMessage, type Link, type Logger, ReloadError, silentLogger, systemClock, type Timer } from '../../../overlay/index.js';
import { Availability, consecutiveRuns } from '../content/availability.js';
import { ChunkStore, type CompleteChunkStore, type DownloadChunkStore } from '../store/chunk-store.js';
import type { HashedFile } from '../content/chunker.js';
import { Choker, RECHOKE_INTERVAL_MS, type ChokeChange, type PeerRates } from './choker.js';
import type { PpspDataMessage } from './data-messages.js';
import { DEFAULT_HASHES_PER_FRAME, hashRanges, LeafHashCollector, LeafHashes } from '../content/leaf-hashes.js';
import { PeerSession, type SessionHost } from './peer-session.js';
import { DEFAULT_REQUESTS_PER_PEER, PiecePicker } from './piece-picker.js';
import { mediaInfoOfFile, type MediaInfo } from '../content/media-info.js';
import { ChunkWaiters } from './chunk-waiters.js';
import { RateLimit, TokenBucket, type NodeRateLimits } from './rate-limit.js';
import { RateWindow } from './rate-window.js';
import { StreamReaders, type StreamReader } from './stream-readers.js';
import { fileIdentity, SeedFileGuard, type FileIdentity } from '../store/seed-file-guard.js';
import { chunkRange, parseSwarmId, type SwarmMetadata } from '../content/swarm-id.js';

/** A swarm member to try: its Node-ID in hex (from the tracker, or given). */
export interface PeerRef {
  nodeId: string;
}

/**
 * Requests in flight across all peers at most: 8 MiB at 16 KiB chunks, which also bounds the
 * chunks that can arrive at once. Eight peers' full windows (DEFAULT_REQUESTS_PER_PEER) fit, so
 * more peers add throughput instead of splitting a fixed window into smaller requests.
 */
export const DEFAULT_MAX_REQUESTS_IN_FLIGHT = 512;
/** A request unanswered this long (ms) is re-issued, to another holder first. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;
/** Housekeeping period (ms): timeouts, progress rate, dialling new peers. */
export const DEFAULT_TICK_INTERVAL_MS = 250;
/** Least time (ms) between two asks of the peer source, and before a failed dial is retried. */
export const DEFAULT_REDIAL_INTERVAL_MS = 2_000;
/** Sessions a downloading swarm dials at most (answered ones are not limited here). */
export const DEFAULT_MAX_PEERS = 32;
/** Bad chunks a peer may send before it is dropped for the rest of the download. */
export const DEFAULT_MAX_STRIKES = 1;
/** Verified chunks waiting for the disk at most before no more are requested (64 x 16 KiB = 1 MiB). */
export const MAX_PENDING_WRITES = 64;
/**
 * Seconds of a peer's measured rate its requests in flight cover, while a player reads: REQUESTs
 * queue at the uploader in the order sent, so a short queue lets a seek's chunks come next. Without
 * a reader, a longer queue keeps a long-latency path busy. Either way at least
 * MIN_REQUESTS_PER_PEER and at most `requestsPerPeer`.
 */
export const STREAMING_QUEUE_SECONDS = 1;
export const DOWNLOAD_QUEUE_SECONDS = 4;
export const MIN_REQUESTS_PER_PEER = 4;
export const INITIAL_REQUESTS_PER_PEER = 16;
/** Chunks `bufferedAhead` looks at, at most (64 MiB at 16 KiB chunks). */
export const BUFFER_SCAN_CHUNKS = 4096;
/** Seconds of the upload limit one upload run takes at most. */
export const UPLOAD_RUN_SECONDS = 0.1;
/** A stream reader waits this long (ms) for a chunk, or for the metadata, before it gives up. */
export const DEFAULT_STREAM_WAIT_MS = 60_000;
/** Peers whose last ERROR a swarm remembers (for the user: why they left), at most. */
export const MAX_PEER_ERRORS = 16;

export interface SwarmOptions {
  clock?: Clock;
  log?: Logger;
  /** Upload slots of our choker; default DEFAULT_UPLOAD_SLOTS (choker.ts). */
  uploadSlots?: number;
  /** Rechoke period, ms; default RECHOKE_INTERVAL_MS. */
  rechokeIntervalMs?: number;
  /** Requests in flight to one peer; default DEFAULT_REQUESTS_PER_PEER. */
  requestsPerPeer?: number;
  /** See DEFAULT_MAX_REQUESTS_IN_FLIGHT. */
  maxRequestsInFlight?: number;
  /** See DEFAULT_REQUEST_TIMEOUT_MS. */
  requestTimeoutMs?: number;
  /** See DEFAULT_TICK_INTERVAL_MS. */
  tickIntervalMs?: number;
  /** See DEFAULT_REDIAL_INTERVAL_MS. */
  redialIntervalMs?: number;
  /** See DEFAULT_MAX_PEERS. */
  maxPeers?: number;
  /** See DEFAULT_MAX_STRIKES. */
  maxStrikes?: number;
  /** Leaf hashes per HASHES frame; default DEFAULT_HASHES_PER_FRAME. */
  hashesPerFrame?: number;
  /** Discard a partial download instead of resuming it. Default false. */
  restart?: boolean;
  /** Upload limit of this swarm, bytes/s; 0 or undefined: none (the node's may still apply). */
  uploadLimit?: number;
  /** Download limit of this swarm, bytes/s; 0 or undefined: none. */
  downloadLimit?: number;
  /** Longest wait (ms) of a stream reader for one chunk; default DEFAULT_STREAM_WAIT_MS. */
  streamWaitMs?: number;
  /** Chunk-store sync batch (chunks); default the store's. */
  syncEveryChunks?: number;
  /** Test-only: see PeerSessionOptions.tamperData (a corrupting peer). */
  tamperData?: (index: number, frame: Buffer) => void;
  /** Least time between two checks that the file we serve is unchanged, ms; default DEFAULT_SEED_CHECK_INTERVAL_MS. */
  seedCheckIntervalMs?: number;
}

/** What the usage gives a swarm: who we are, how to reach a peer, and where peers come from. */
export interface SwarmContext {
  localNodeId: string;
  /** Opens a data channel (a Link) to a Node-ID. */
  dial(nodeId: string): Promise<Link>;
  /** Members to try; a seeder may have none and only answer. */
  peers?: () => Promise<PeerRef[]>;
  /** The node's rate limits, shared by its swarms. */
  nodeLimits?: NodeRateLimits;
}

/** A progress event: chunks held, chunks in all, download rate (bytes/s), connected peers. */
export interface SwarmProgress {
  have: number;
  total: number;
  bytesPerSec: number;
  peers: number;
}

/** Counters of one swarm (chunks are counted once each; bytes are chunk bytes). */
export interface SwarmStats {
  /** New chunks verified and stored by this run. */
  chunksReceived: number;
  /** DATA accepted for a chunk already held (end game). */
  duplicates: number;
  /** DATA that failed verification (wrong length or proof): never stored. */
  corruptCaught: number;
  /** Requests re-issued after `requestTimeoutMs`. */
  timeouts: number;
  /** Chunks held when the download was opened (resumed from disk). */
  resumedChunks: number;
  /** CHOKE / UNCHOKE messages sent by our choker, and the most peers unchoked at once. */
  chokesSent: number;
  unchokesSent: number;
  maxUnchoked: number;
  /** Bytes uploaded / downloaded per peer over the swarm's life (closed sessions included). */
  uploadedTo: Map<string, number>;
  downloadedFrom: Map<string, number>;
  /** Peers dropped for bad chunks. */
  banned: Set<string>;
  /** Peers we sent CHOKE to at least once. */
  choked: Set<string>;
  /** Peers that sent us CHOKE at least once: the other side of `choked`. */
  chokedBy: Set<string>;
  /** The last ERROR text of peers that closed with one (at most MAX_PEER_ERRORS peers). */
  peerErrors: Map<string, string>;
}

type Phase = 'metadata' | 'opening' | 'hashes' | 'running' | 'finishing' | 'complete' | 'stopped';

/**
 * A swarm being seeded or downloaded. Events: `chunk` (index: a new chunk verified, before it is
 * written), `progress` (SwarmProgress, after each chunk is written), `done`, `peerGone` (Node-ID
 * hex: its channel closed or it could not be reached; the tracker may forget it), `stopped` (the
 * swarm was stopped: by its owner, a failed download, or a seeded file that changed on disk).
 */
export class Swarm extends EventEmitter implements SessionHost {
  readonly swarmId: string;
  metadata: SwarmMetadata | undefined;
  /** File name and media type: a seeder's own, a downloader's from the first peer that names them. */
  media: MediaInfo = {};
  readonly stats: SwarmStats = {
    chunksReceived: 0,
    duplicates: 0,
    corruptCaught: 0,
    timeouts: 0,
    resumedChunks: 0,
    chokesSent: 0,
    unchokesSent: 0,
    maxUnchoked: 0,
    uploadedTo: new Map(),
    downloadedFrom: new Map(),
    banned: new Set(),
    choked: new Set(),
    chokedBy: new Set(),
    peerErrors: new Map(),
  };
  /** Resolves once the file is complete, every chunk verified, and renamed into place. */
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private rejectDone!: (e: Error) => void;
  private phase: Phase;
  private readonly sessions = new Map<string, PeerSession>();
  private readonly dialling = new Set<string>();
  private readonly dialFailedAt = new Map<string, number>();
  private readonly strikes = new Map<string, number>();
  /** Chunks verified and handed to the store, not yet written. */
  private pendingWrites = 0;
  /** Chunks stored but not yet announced with HAVE (see announce). */
  private unannounced: number[] = [];
  private store: CompleteChunkStore | DownloadChunkStore | undefined;
  /** The store to read from: replaced while a finished download is reopened as complete. */
  private storeReady: Promise<ChunkStore | undefined> = Promise.resolve(undefined);
  private leaves: LeafHashes | undefined;
  private have: Availability | undefined;
  private picker: PiecePicker<string> | undefined;
  private readonly choker: Choker<string>;
  private hashSource: PeerSession | undefined;
  private collector: LeafHashCollector | undefined;
  private hashesAskedAtMs = 0;
  private timers: Timer[] = [];
  private lastPeersAsk = -Infinity;
  private asking = false;
  /** Bytes of new verified chunks over the last seconds (the progress rate). */
  private readonly rate = new RateWindow();
  /** Checks the file we serve from has not changed since it was hashed (seeding, or a finished download). */
  private guard: SeedFileGuard | undefined;
  /** Why the swarm stopped on its own: the file it serves changed, or a download could not open its file. */
  stoppedBecause: string | undefined;
  private lastRechoke = new Map<string, { up: number; down: number }>();
  private lastRechokeMs: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  /** Players reading the content while it downloads: their windows steer the picker. */
  private readers: StreamReaders | undefined;
  private readonly waiters: ChunkWaiters;
  /** Each connected peer's recent delivery rate, which sizes its request queue. */
  private readonly peerRates = new Map<string, RateWindow>();
  private readonly uploadBucket: TokenBucket;
  private readonly downloadBucket: TokenBucket;
  private readonly uploadLimit: RateLimit;
  private readonly downloadLimit: RateLimit;
  /** The pump that runs once the download limit allows more requests. */
  private throttled: Timer | undefined;
  private readonly metadataWaits = new Set<() => void>();

  private constructor(
    swarmId: string,
    private readonly ctx: SwarmContext,
    private readonly options: SwarmOptions,
    /** The file seeded, or the download's output. */
    readonly path: string,
    readonly role: 'seed' | 'download',
  ) {
    super();
    this.swarmId = parseSwarmId(swarmId);
    this.clock = options.clock ?? systemClock;
    this.log = (options.log ?? silentLogger).child(`ppsp:swarm:${this.swarmId.slice(0, 8)}`);
    this.choker = new Choker({ slots: options.uploadSlots });
    this.phase = 'metadata';
    this.lastRechokeMs = this.clock.now();
    this.waiters = new ChunkWaiters(this.clock);
    this.uploadBucket = new TokenBucket(options.uploadLimit ?? 0, this.clock);
    this.downloadBucket = new TokenBucket(options.downloadLimit ?? 0, this.clock);
    const node = ctx.nodeLimits;
    this.uploadLimit = new RateLimit(node ? [this.uploadBucket, node.upload] : [this.uploadBucket]);
    this.downloadLimit = new RateLimit(node ? [this.downloadBucket, node.download] : [this.downloadBucket]);
    this.done = new Promise<void>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    // Nobody has to await `done`: a stop before completion must not be an unhandled rejection.
    this.done.catch(() => {});
  }

  /**
   * Seeds the complete file at `path`, hashed already (hashFile) when it had `identity`: uploads
   * stop if the file no longer has it.
   */
  static async seed(path: string, hashed: HashedFile, identity: FileIdentity, ctx: SwarmContext, options: SwarmOptions = {}, media = mediaInfoOfFile(path)): Promise<Swarm> {
    const { metadata } = hashed;
    const swarm = new Swarm(metadata.swarmId, ctx, options, path, 'seed');
    swarm.media = media;
    swarm.guard = new SeedFileGuard(path, identity, swarm.clock, options.seedCheckIntervalMs);
    swarm.metadata = metadata;
    swarm.readers = new StreamReaders(metadata.chunkSize, () => swarm.clock.now(), () => {});
    swarm.leaves = LeafHashes.verified(metadata, hashed.leafHashes);
    const store = await ChunkStore.openComplete(path, { chunkSize: metadata.chunkSize, contentLength: metadata.contentLength });
    swarm.store = store;
    swarm.storeReady = Promise.resolve(store);
    swarm.have = new Availability(metadata.chunkCount);
    if (metadata.chunkCount > 0) swarm.have.setRange({ first: 0, last: metadata.chunkCount - 1 });
    swarm.phase = 'complete';
    swarm.resolveDone();
    swarm.startTimers();
    return swarm;
  }

  /**
   * Downloads into `outPath` (through `outPath.part`), from verified metadata or from a bare swarm
   * ID, whose metadata the first peer to answer supplies (checked against the ID).
   */
  static download(target: SwarmMetadata | string, outPath: string, ctx: SwarmContext, options: SwarmOptions = {}): Swarm {
    const swarm = new Swarm(typeof target === 'string' ? target : target.swarmId, ctx, options, outPath, 'download');
    swarm.startTimers();
    if (typeof target !== 'string') swarm.setMetadata(target);
    swarm.tick();
    return swarm;
  }

  /** Seeding, or downloaded and seeding now. */
  get complete(): boolean {
    return this.phase === 'complete';
  }

  /** Whether the swarm was stopped (it serves and fetches nothing more). */
  get stopped(): boolean {
    return this.phase === 'stopped';
  }

  get progress(): SwarmProgress {
    return { have: this.have?.count ?? 0, total: this.metadata?.chunkCount ?? 0, bytesPerSec: this.rate.perSecond(this.clock.now()), peers: this.sessions.size };
  }

  /** The leaf hashes once known (packed, 32 bytes per chunk), for persisting the swarm. */
  get leafHashes(): Uint8Array | undefined {
    return this.leaves?.packed;
  }

  /** The identity of the complete file we serve, once complete (what its leaf hashes were made from). */
  get fileIdentity(): FileIdentity | undefined {
    return this.guard?.identity;
  }

  /** Whether `chunk` is chunk `index` of this swarm (its length and its leaf hash); false before the hashes are known. */
  verifyChunk(index: number, chunk: Uint8Array): boolean {
    const metadata = this.metadata;
    if (!this.leaves || !metadata) return false;
    const { start, end } = chunkRange(index, metadata.contentLength, metadata.chunkSize);
    return chunk.length === end - start && this.leaves.verifyChunk(index, chunk);
  }

  /** The chunks we hold and can serve (a copy), for availability answers; undefined before the store is open. */
  availability(): Availability | undefined {
    return this.have && this.leaves ? Availability.fromBitmap(this.have.chunkCount, this.have.toBitmap()) : undefined;
  }

  /** Whether `peer` told us it holds `chunk`; undefined if we have no session with it or no availability from it. */
  peerHasChunk(peer: string, chunk: number): boolean | undefined {
    const remote = this.sessions.get(peer)?.remote;
    return remote && Number.isSafeInteger(chunk) && chunk >= 0 && chunk < remote.chunkCount ? remote.has(chunk) : undefined;
  }

  /** Node-IDs of the peers with an open session. */
  peerIds(): string[] {
    return [...this.sessions.keys()];
  }

  /** Bytes uploaded to all peers (closed sessions included). */
  get bytesUploaded(): number {
    let sum = 0;
    for (const [peer, n] of this.stats.uploadedTo) sum += n + (this.sessions.get(peer)?.stats.bytesUp ?? 0);
    for (const [peer, s] of this.sessions) if (!this.stats.uploadedTo.has(peer)) sum += s.stats.bytesUp;
    return sum;
  }

  /** Bytes downloaded from all peers (closed sessions included). */
  get bytesDownloaded(): number {
    const everyone = new Set([...this.stats.downloadedFrom.keys(), ...this.sessions.keys()]);
    let sum = 0;
    for (const peer of everyone) sum += this.downloadedFrom(peer);
    return sum;
  }

  /** Per peer, bytes uploaded to it over the swarm's life. */
  uploadedTo(peer: string): number {
    return (this.stats.uploadedTo.get(peer) ?? 0) + (this.sessions.get(peer)?.stats.bytesUp ?? 0);
  }

  /** Per peer, bytes downloaded from it over the swarm's life. */
  downloadedFrom(peer: string): number {
    return (this.stats.downloadedFrom.get(peer) ?? 0) + (this.sessions.get(peer)?.stats.bytesDown ?? 0);
  }

  /** Stops timers, closes every session and the store (a partial download stays resumable). */
  async stop(): Promise<void> {
    if (this.phase === 'stopped') return;
    const wasComplete = this.phase === 'complete';
    this.phase = 'stopped';
    for (const t of this.timers) t.cancel();
    this.timers = [];
    this.throttled?.cancel();
    for (const s of [...this.sessions.values()]) s.close();
    if (!wasComplete) this.rejectDone(new ReloadError(ErrorCode.Request_Timeout, 'the swarm was stopped before the download completed', 'stopped'));
    const stopped = new ReloadError(ErrorCode.Not_Found, `swarm ${this.swarmId} was stopped${this.stoppedBecause ? `: ${this.stoppedBecause}` : ''}`, 'stopped');
    this.waiters.failAll(stopped);
    for (const wake of this.metadataWaits) wake();
    this.emit('stopped');
    const store = await this.storeReady.catch(() => undefined);
    await (store ?? this.store)?.close().catch(() => {});
  }

  // ---- streaming readers -----------------------------------------------------------------------

  /**
   * Bytes held without a gap from the newest reader's position on: how far a player can read
   * before it waits. Undefined while nobody reads.
   */
  get bufferedAhead(): number | undefined {
    const at = this.readers?.newestPosition();
    if (at === undefined || !this.metadata) return undefined;
    let c = at;
    // Bounded scan: beyond BUFFER_SCAN_CHUNKS a player is far from waiting anyway.
    while (c < this.metadata.chunkCount && c - at < BUFFER_SCAN_CHUNKS && this.isReadable(c)) c++;
    return Math.max(0, Math.min(this.metadata.contentLength, c * this.metadata.chunkSize) - at * this.metadata.chunkSize);
  }

  /** Stream readers open now (players reading through the media endpoint). */
  get readerCount(): number {
    return this.readers?.size ?? 0;
  }

  /** Resolves once the metadata is known (at once for a seed), false if the swarm stopped or `timeoutMs` passed. */
  async whenMetadata(timeoutMs = this.options.streamWaitMs ?? DEFAULT_STREAM_WAIT_MS): Promise<boolean> {
    if (this.metadata || this.phase === 'stopped') return this.metadata !== undefined;
    await new Promise<void>((resolve) => {
      const timer = this.clock.after(timeoutMs, wake);
      function wake() {
        timer.cancel();
        resolve();
      }
      this.metadataWaits.add(wake);
    });
    return this.metadata !== undefined;
  }

  /** A reader at chunk `chunk`: its windows steer the picker until it is closed. Needs the metadata. */
  openReader(chunk: number): StreamReader {
    if (!this.readers) throw new ReloadError(ErrorCode.Not_Found, 'the swarm has no metadata yet', 'not_ready');
    return this.readers.open(chunk);
  }

  /** Whether chunk `index` is verified and stored, so it can be read. */
  isReadable(index: number): boolean {
    return this.leaves !== undefined && this.have?.has(index) === true;
  }

  /** Resolves once chunk `index` can be read (at once if it can); Request_Timeout after the stream wait. */
  whenReadable(index: number, signal?: AbortSignal): Promise<void> {
    if (this.isReadable(index)) return Promise.resolve();
    if (this.phase === 'stopped') return Promise.reject(new ReloadError(ErrorCode.Not_Found, `swarm ${this.swarmId} was stopped`, 'stopped'));
    const why = () => `${this.sessions.size} peer(s) connected, ${this.have?.count ?? 0} of ${this.metadata?.chunkCount ?? '?'} chunks held`;
    return this.waiters.wait(index, this.options.streamWaitMs ?? DEFAULT_STREAM_WAIT_MS, why, signal);
  }

  /** Takes a peer's name and type hints for what we do not know yet; a download's own file name comes last. */
  private learnMedia(hints: MediaInfo): void {
    const own = mediaInfoOfFile(this.path);
    this.media = { name: this.media.name ?? hints.name ?? own.name, type: this.media.type ?? hints.type ?? own.type };
  }

  /** Hands the readers' windows to the picker and asks for them at once. */
  private steer(): void {
    if (!this.picker || !this.readers || !this.metadata) return;
    this.picker.setPriority(this.readers.windows(this.metadata.chunkCount, this.clock.now()));
    this.pump();
  }

  // ---- sessions (SessionHost) ------------------------------------------------------------------

  /** Whether this swarm takes a channel from `peer` (not banned, not stopped, metadata known). */
  accepts(peer: string): boolean {
    return this.phase !== 'stopped' && this.metadata !== undefined && !this.stats.banned.has(peer);
  }

  attach(session: PeerSession, metadata: SwarmMetadata): void {
    const peer = session.remoteNodeId;
    if (this.phase === 'stopped' || this.stats.banned.has(peer)) {
      session.close();
      return;
    }
    if (!this.metadata) this.setMetadata(metadata);
    this.learnMedia(session.remoteMedia);
    const existing = this.sessions.get(peer);
    if (existing) {
      // Both sides dialled: keep the channel dialled by the smaller Node-ID, on both ends alike.
      const keeper = this.ctx.localNodeId < peer ? this.ctx.localNodeId : peer;
      const newDialler = session.initiator ? this.ctx.localNodeId : peer;
      if (newDialler !== keeper) {
        session.close();
        return;
      }
      this.sessions.set(peer, session);
      this.retire(existing);
      existing.close();
    } else this.sessions.set(peer, session);
    if (this.leaves && this.have) session.sendAvailability(this.have);
    this.emitProgress();
  }

  detach(session: PeerSession): void {
    const peer = session.remoteNodeId;
    if (this.sessions.get(peer) !== session) return;
    if (session.remoteError !== undefined) this.rememberPeerError(peer, session.remoteError);
    this.sessions.delete(peer);
    this.peerRates.delete(peer);
    this.retire(session);
    this.emit('peerGone', peer);
    this.picker?.peerGone(peer);
    this.apply(this.choker.peerGone(peer));
    if (this.hashSource === session) {
      this.hashSource = undefined;
      this.collector = undefined;
      this.fetchHashes();
    }
    this.emitProgress();
    this.pump();
  }

  /** Test-only fault injection for uploads (SwarmOptions.tamperData). */
  get tamperData(): ((index: number, frame: Buffer) => void) | undefined {
    return this.options.tamperData;
  }

  async readChunksInto(first: number, targets: Uint8Array[]): Promise<void> {
    const store = await this.storeReady;
    if (!store || !this.leaves) throw new ReloadError(ErrorCode.Not_Found, 'no chunks to serve yet', 'not_ready');
    // The stat (when one is due) runs beside the read; what was read is sent only if the file still matches.
    const [change] = await Promise.all([this.guard?.check() ?? '', store.readChunksInto(first, targets)]);
    if (change) {
      this.fileChanged(change);
      throw seedChanged();
    }
  }

  /**
   * Whether the complete file we serve still is what was hashed (one stat now); if not, the swarm
   * stops serving it like an upload that found it changed. False when not complete.
   */
  async fileUnchanged(): Promise<boolean> {
    const change = this.phase === 'complete' ? await this.guard?.check(true) : 'not complete';
    if (change) this.fileChanged(change);
    return !change;
  }

  /** The file we serve changed after it was hashed: what it holds now would fail the root, so stop serving it. */
  private fileChanged(change: string): void {
    if (this.phase === 'stopped') return;
    this.stoppedBecause = `${this.path} changed on disk after it was hashed (${change})`;
    this.log.warn(
      `${this.stoppedBecause}: stopped serving swarm ${this.swarmId}, whose root no longer matches it. ` +
        `Seed the file again (reload-ppsp seed ${this.path}) to share what it holds now.`,
    );
    for (const s of [...this.sessions.values()]) s.fail(seedChanged());
    void this.stop();
  }

  private rememberPeerError(peer: string, text: string): void {
    // Why a seeder left for good outlives what its later answers say ("unknown swarm" once it stopped).
    if (this.stats.peerErrors.get(peer)?.startsWith('seed_changed')) return;
    this.stats.peerErrors.delete(peer);
    this.stats.peerErrors.set(peer, text);
    if (this.stats.peerErrors.size > MAX_PEER_ERRORS) this.stats.peerErrors.delete(this.stats.peerErrors.keys().next().value!);
  }

  onMessage(session: PeerSession, m: PpspDataMessage): void {
    const peer = session.remoteNodeId;
    switch (m.type) {
      case 'availability':
        this.picker?.setAvailability(peer, session.remote!.toBitmap());
        this.checkInterest(session);
        if (this.phase === 'hashes') this.fetchHashes();
        break;
      case 'have':
        this.picker?.addHave(peer, m.first, m.last);
        this.checkInterest(session);
        break;
      case 'choke':
        this.stats.chokedBy.add(peer);
        // Outstanding requests will not be answered (RFC 7574 §8.12): free them for other holders.
        // They stay in `session.requested`, so DATA already on the wire is still taken if it is needed.
        this.picker?.releaseRequests(peer);
        break;
      case 'unchoke':
        break;
      case 'request':
        this.onRequest(session, m.first, m.last);
        return;
      case 'hashesRequest':
        this.onHashesRequest(session, m.first, m.last);
        return;
      case 'hashes':
        this.onHashes(session, m.first, m.hashes);
        return;
      case 'data':
        this.onData(session, m.index, m.chunk);
        break;
      default:
        return;
    }
    this.pump();
  }

  // ---- uploading -------------------------------------------------------------------------------

  private onRequest(session: PeerSession, first: number, last: number): void {
    if (!this.leaves || !this.have) throw new ReloadError(ErrorCode.Not_Found, 'no chunks to serve yet', 'not_ready');
    const peer = session.remoteNodeId;
    if (!this.choker.isUnchoked(peer)) this.apply(this.choker.interested(peer));
    // Still choked: the CHOKE just sent says "recorded; ask again after UNCHOKE" (seed §4.3).
    if (!this.choker.isUnchoked(peer)) return;
    const held: number[] = [];
    for (let c = first; c <= last; c++) if (this.have.has(c)) held.push(c);
    session.queueUploads(held);
  }

  private onHashesRequest(session: PeerSession, first: number, last: number): void {
    if (!this.leaves) throw new ReloadError(ErrorCode.Not_Found, 'leaf hashes not known yet', 'not_ready');
    // One answer per request, so a peer cannot make us queue the whole list with one message.
    const per = this.options.hashesPerFrame ?? DEFAULT_HASHES_PER_FRAME;
    if (last - first + 1 > per) throw new ReloadError(ErrorCode.Forbidden, `at most ${per} leaf hashes per request`, 'too_many_hashes');
    session.send({ type: 'hashes', first, hashes: this.leaves.slice(first, last) });
  }

  /** A peer that holds everything we could give it no longer needs an upload slot. */
  private checkInterest(session: PeerSession): void {
    if (session.remote?.isComplete) this.apply(this.choker.notInterested(session.remoteNodeId));
  }

  private apply(changes: ChokeChange<string>[]): void {
    for (const { peer, message } of changes) {
      const s = this.sessions.get(peer);
      if (!s) continue;
      if (message === 'choke') {
        s.dropUploads();
        this.stats.chokesSent++;
        this.stats.choked.add(peer);
      } else this.stats.unchokesSent++;
      s.send({ type: message });
    }
    this.stats.maxUnchoked = Math.max(this.stats.maxUnchoked, this.choker.unchoked().length);
  }

  private rechoke(): void {
    const now = this.clock.now();
    const seconds = Math.max(0.001, (now - this.lastRechokeMs) / 1000);
    const rates = new Map<string, PeerRates>();
    const seen = new Map<string, { up: number; down: number }>();
    for (const [peer] of this.sessions) {
      const up = this.uploadedTo(peer);
      const down = this.downloadedFrom(peer);
      const before = this.lastRechoke.get(peer) ?? { up: 0, down: 0 };
      rates.set(peer, { toPeer: (up - before.up) / seconds, fromPeer: (down - before.down) / seconds });
      seen.set(peer, { up, down });
    }
    this.lastRechoke = seen;
    this.lastRechokeMs = now;
    this.apply(this.choker.rechoke(now, { rates, seeding: this.phase === 'complete' }));
  }

  // ---- downloading -----------------------------------------------------------------------------

  private setMetadata(metadata: SwarmMetadata): void {
    if (metadata.swarmId !== this.swarmId) throw invalidMessage('metadata of another swarm', 'wrong_swarm');
    this.metadata = metadata;
    this.readers = new StreamReaders(metadata.chunkSize, () => this.clock.now(), () => this.steer());
    for (const wake of this.metadataWaits) wake();
    this.metadataWaits.clear();
    this.phase = 'opening';
    void this.open(metadata);
  }

  private async open(metadata: SwarmMetadata): Promise<void> {
    const opening = ChunkStore.openDownload(this.path, {
      swarmId: this.swarmId,
      chunkSize: metadata.chunkSize,
      contentLength: metadata.contentLength,
      chunkCount: metadata.chunkCount,
      restart: this.options.restart,
      syncEveryChunks: this.options.syncEveryChunks,
      clock: this.clock,
      log: this.options.log,
    });
    this.storeReady = opening.catch(() => undefined);
    let store: DownloadChunkStore;
    try {
      store = await opening;
    } catch (e) {
      this.stoppedBecause = `cannot open ${this.path}: ${(e as Error).message}`;
      this.log.warn(this.stoppedBecause);
      this.rejectDone(e as Error);
      void this.stop();
      return;
    }
    if (this.phase === 'stopped') {
      await store.close();
      return;
    }
    this.store = store;
    const have = new Availability(metadata.chunkCount);
    for (let c = 0; c < metadata.chunkCount; c++) if (store.has(c)) have.set(c);
    this.have = have;
    this.stats.resumedChunks = have.count;
    this.phase = 'hashes';
    this.fetchHashes();
  }

  /** Asks one peer that advertised availability (so it holds the hashes) for every leaf hash. */
  private fetchHashes(): void {
    if (this.phase !== 'hashes' || this.hashSource) return;
    const metadata = this.metadata!;
    if (metadata.chunkCount === 0) return this.startRunning(LeafHashes.verified(metadata, new Uint8Array(0)));
    const source = [...this.sessions.values()].find((s) => s.ready && s.remote !== undefined);
    if (!source) return;
    this.hashSource = source;
    this.hashesAskedAtMs = this.clock.now();
    this.collector = new LeafHashCollector(metadata);
    for (const r of hashRanges(metadata.chunkCount, this.options.hashesPerFrame ?? DEFAULT_HASHES_PER_FRAME)) source.send({ type: 'hashesRequest', ...r });
  }

  private onHashes(session: PeerSession, first: number, hashes: Uint8Array): void {
    if (session !== this.hashSource || !this.collector) throw invalidMessage('leaf hashes that were not asked for', 'unexpected_hashes');
    this.collector.add(first, hashes);
    this.hashesAskedAtMs = this.clock.now();
    if (!this.collector.complete) return;
    let leaves: LeafHashes;
    try {
      leaves = this.collector.finish();
    } catch (e) {
      // A list that does not rebuild the root is a lie: the peer is dropped like one with a bad chunk.
      this.hashSource = undefined;
      this.collector = undefined;
      this.ban(session, e);
      this.fetchHashes();
      return;
    }
    this.hashSource = undefined;
    this.collector = undefined;
    this.startRunning(leaves);
  }

  private startRunning(leaves: LeafHashes): void {
    const metadata = this.metadata!;
    this.leaves = leaves;
    this.storeReady = Promise.resolve(this.store);
    this.picker = new PiecePicker<string>(metadata.chunkCount, { have: this.have!.toBitmap() });
    this.phase = 'running';
    this.steer();
    for (const s of this.sessions.values()) {
      if (s.remote) this.picker.setAvailability(s.remoteNodeId, s.remote.toBitmap());
      s.sendAvailability(this.have!);
    }
    this.emitProgress();
    this.maybeFinish();
    this.pump();
  }

  private onData(session: PeerSession, index: number, chunk: Uint8Array): void {
    const picker = this.picker;
    if (!picker || this.phase !== 'running') return;
    if (!this.verifyChunk(index, chunk)) {
      this.stats.corruptCaught++;
      picker.failed(session.remoteNodeId, index);
      const strikes = (this.strikes.get(session.remoteNodeId) ?? 0) + 1;
      this.strikes.set(session.remoteNodeId, strikes);
      this.log.warn(`bad chunk ${index} from ${session.remoteNodeId.slice(0, 8)} (strike ${strikes})`);
      if (strikes >= (this.options.maxStrikes ?? DEFAULT_MAX_STRIKES)) this.ban(session, invalidMessage(`chunk ${index} does not match its leaf hash`, 'bad_chunk'));
      return;
    }
    if (picker.has(index)) {
      this.stats.duplicates++;
      return;
    }
    for (const other of picker.received(index, session.remoteNodeId)) this.sessions.get(other)?.cancel(index);
    this.stats.chunksReceived++;
    this.rate.add(chunk.length, this.clock.now());
    let peerRate = this.peerRates.get(session.remoteNodeId);
    if (!peerRate) this.peerRates.set(session.remoteNodeId, (peerRate = new RateWindow()));
    peerRate.add(chunk.length, this.clock.now());
    this.emit('chunk', index);
    const store = this.store as DownloadChunkStore;
    this.pendingWrites++;
    store.write(index, chunk).finally(() => {
      this.pendingWrites--;
      this.pump();
    }).then(
      () => {
        if (this.phase === 'stopped' || !this.have) return;
        this.have.set(index);
        this.waiters.notify(index);
        this.announce(index);
        this.emitProgress();
        this.maybeFinish();
      },
      (e: Error) => {
        if (this.phase !== 'stopped') this.log.warn(`cannot store chunk ${index}: ${e.message}`);
      },
    );
  }

  /**
   * Tells peers about a chunk just stored, in HAVE ranges gathered over one turn of the event
   * loop: chunks written together (a run) cost one HAVE per peer, not one each. A peer that holds
   * the whole range already is not told (it will never ask us for it): with several seeders, HAVEs
   * to them were most of a downloader's socket writes.
   */
  private announce(index: number): void {
    this.unannounced.push(index);
    if (this.unannounced.length > 1) return;
    setImmediate(() => {
      const chunks = this.unannounced.sort((a, b) => a - b);
      this.unannounced = [];
      if (this.phase === 'stopped') return;
      for (const range of consecutiveRuns(chunks)) {
        for (const s of this.sessions.values()) if (!s.remote?.hasRange(range)) s.send({ type: 'have', ...range });
      }
    });
  }

  /** Drops a peer for good in this download: ERROR, close, never dialled or accepted again. */
  private ban(session: PeerSession, why: unknown): void {
    this.stats.banned.add(session.remoteNodeId);
    session.fail(why);
  }

  private maybeFinish(): void {
    if (this.phase !== 'running' || !this.have?.isComplete) return;
    this.phase = 'finishing';
    const store = this.store as DownloadChunkStore;
    const reopened = (async () => {
      await store.finish();
      // From now on we serve a file like a seeder, and watch it like one.
      this.guard = new SeedFileGuard(this.path, await fileIdentity(this.path), this.clock, this.options.seedCheckIntervalMs);
      return ChunkStore.openComplete(this.path, { chunkSize: this.metadata!.chunkSize, contentLength: this.metadata!.contentLength });
    })();
    this.storeReady = reopened.catch(() => undefined);
    reopened.then(
      async (complete) => {
        if (this.phase === 'stopped') {
          await complete.close();
          this.resolveDone();
          return;
        }
        this.store = complete;
        this.phase = 'complete';
        this.log.info(`complete: ${this.metadata!.chunkCount} chunks verified, ${this.stats.chunksReceived} fetched by this run`);
        this.resolveDone();
        this.emit('done');
      },
      (e: Error) => {
        this.rejectDone(e);
        void this.stop();
      },
    );
  }

  /** Issues requests to every unchoked peer with room, rarest first (the picker decides). */
  private pump(): void {
    const picker = this.picker;
    if (this.phase !== 'running' || !picker || picker.complete) return;
    // Backpressure from the disk: chunks verified but not yet written are held in memory, so ask
    // for no more while too many wait (memory stays bounded whatever the file size or peer count).
    if (this.pendingWrites >= MAX_PENDING_WRITES) return;
    if (this.waitForDownloadLimit()) return;
    const now = this.clock.now();
    const streaming = (this.readers?.size ?? 0) > 0;
    const maxPerPeer = this.options.requestsPerPeer ?? DEFAULT_REQUESTS_PER_PEER;
    const total = this.options.maxRequestsInFlight ?? DEFAULT_MAX_REQUESTS_IN_FLIGHT;
    // While a player waits, the fastest holders get the first pick of its windows.
    const sessions = streaming ? [...this.sessions.values()].sort((a, b) => this.downloadedFrom(b.remoteNodeId) - this.downloadedFrom(a.remoteNodeId)) : this.sessions.values();
    for (const s of sessions) {
      if (!s.ready || s.chokedByRemote || !s.remote) continue;
      const limits = { perPeer: this.requestQueue(s.remoteNodeId, maxPerPeer, streaming, now), total };
      if (streaming) for (const c of picker.preempt(s.remoteNodeId, limits.perPeer)) s.cancel(c);
      const chunks = picker.next(s.remoteNodeId, now, limits);
      if (chunks.length === 0) continue;
      s.request(chunks);
      if (this.downloadLimit.charge(chunks.length * this.metadata!.chunkSize) > 0) return void this.waitForDownloadLimit();
    }
  }

  /** Requests in flight `peer` is given: its rate times the queue time, bounded (see STREAMING_QUEUE_SECONDS). */
  private requestQueue(peer: string, max: number, streaming: boolean, now: number): number {
    const rate = this.peerRates.get(peer)?.perSecond(now);
    // Until a peer has delivered, a middling queue: the rate shows with the first chunks.
    if (!rate) return Math.min(max, INITIAL_REQUESTS_PER_PEER);
    const seconds = streaming ? STREAMING_QUEUE_SECONDS : DOWNLOAD_QUEUE_SECONDS;
    return Math.max(MIN_REQUESTS_PER_PEER, Math.min(max, Math.ceil((rate * seconds) / this.metadata!.chunkSize)));
  }

  /** True while the download limit is in debt; the pump then runs again once it is not. */
  private waitForDownloadLimit(): boolean {
    const wait = this.downloadLimit.delay();
    if (wait === 0) return false;
    this.throttled ??= this.clock.after(wait, () => {
      this.throttled = undefined;
      this.pump();
    });
    return true;
  }

  /** The rate limits of this swarm (bytes/s, 0: none); the node's apply as well. */
  get limits(): { uploadLimit: number; downloadLimit: number } {
    return { uploadLimit: this.uploadBucket.rate, downloadLimit: this.downloadBucket.rate };
  }

  /** Changes this swarm's rate limits at once. */
  setLimits(limits: { uploadLimit?: number; downloadLimit?: number }): void {
    if (limits.uploadLimit !== undefined) this.uploadBucket.rate = limits.uploadLimit;
    if (limits.downloadLimit !== undefined) this.downloadBucket.rate = limits.downloadLimit;
    this.pump();
  }

  uploadRunChunks(): number {
    const rate = this.uploadLimit.rate;
    // About a tenth of a second of the limit per run: a seek's request waits behind little.
    return rate === 0 ? Infinity : Math.max(1, Math.floor((rate * UPLOAD_RUN_SECONDS) / this.metadata!.chunkSize));
  }

  uploadPermit(bytes: number): Promise<void> | undefined {
    const wait = this.uploadLimit.charge(bytes);
    return wait === 0 ? undefined : new Promise((resolve) => this.clock.after(wait, resolve));
  }

  private retire(session: PeerSession): void {
    const peer = session.remoteNodeId;
    this.stats.uploadedTo.set(peer, (this.stats.uploadedTo.get(peer) ?? 0) + session.stats.bytesUp);
    this.stats.downloadedFrom.set(peer, (this.stats.downloadedFrom.get(peer) ?? 0) + session.stats.bytesDown);
    // Its stats now live in the totals; zero them so a replaced session is not counted twice.
    session.stats.bytesUp = 0;
    session.stats.bytesDown = 0;
    if (this.picker && session.requested.size > 0) this.picker.releaseRequests(peer);
    session.requested.clear();
  }

  // ---- housekeeping ----------------------------------------------------------------------------

  private startTimers(): void {
    this.timers.push(this.clock.every(this.options.tickIntervalMs ?? DEFAULT_TICK_INTERVAL_MS, () => this.tick()));
    this.timers.push(this.clock.every(this.options.rechokeIntervalMs ?? RECHOKE_INTERVAL_MS, () => this.rechoke()));
  }

  private tick(): void {
    if (this.phase === 'stopped') return;
    const now = this.clock.now();
    if (this.picker && this.phase === 'running') {
      if ((this.readers?.size ?? 0) > 0) this.steer();
      for (const late of this.picker.expire(now, this.options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS)) {
        this.stats.timeouts++;
        this.sessions.get(late.peer)?.cancel(late.chunk);
      }
    }
    // A peer that stops answering for the leaf hashes is dropped (detach asks another one).
    if (this.hashSource && now - this.hashesAskedAtMs >= (this.options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS)) {
      this.hashSource.fail(new ReloadError(ErrorCode.Request_Timeout, 'no leaf hashes in time', 'hashes_timeout'));
    }
    this.discover(now);
    this.pump();
  }

  /** Asks the peer source (at most every redialIntervalMs) and dials members we have no channel to. */
  private discover(now: number): void {
    const redial = this.options.redialIntervalMs ?? DEFAULT_REDIAL_INTERVAL_MS;
    if (!this.ctx.peers || this.asking || this.phase === 'complete' || this.phase === 'finishing') return;
    if (now - this.lastPeersAsk < redial) return;
    this.lastPeersAsk = now;
    this.asking = true;
    this.ctx
      .peers()
      .then((refs) => {
        for (const { nodeId } of refs) {
          const peer = nodeId.toLowerCase();
          if (this.phase === 'stopped' || this.sessions.size + this.dialling.size >= (this.options.maxPeers ?? DEFAULT_MAX_PEERS)) break;
          if (peer === this.ctx.localNodeId || this.sessions.has(peer) || this.dialling.has(peer) || this.stats.banned.has(peer)) continue;
          if (now - (this.dialFailedAt.get(peer) ?? -Infinity) < redial) continue;
          this.dialOne(peer);
        }
      })
      .catch((e: Error) => this.log.debug(`peer source failed: ${e.message}`))
      .finally(() => (this.asking = false));
  }

  private dialOne(peer: string): void {
    this.dialling.add(peer);
    this.ctx
      .dial(peer)
      .then((link) => {
        if (this.phase === 'stopped' || this.stats.banned.has(peer)) {
          link.close();
          return;
        }
        new PeerSession(link, { role: 'dialler', swarmId: this.swarmId, host: this }, { log: this.log });
      })
      .catch((e: Error) => {
        this.dialFailedAt.set(peer, this.clock.now());
        this.emit('peerGone', peer);
        this.log.debug(`cannot reach ${peer.slice(0, 8)}: ${e.message}`);
      })
      .finally(() => this.dialling.delete(peer));
  }

  private emitProgress(): void {
    this.emit('progress', this.progress);
  }
}

/** What a seeder whose file changed answers, and what its peers are told. */
function seedChanged(): ReloadError {
  return new ReloadError(ErrorCode.Not_Found, "the seeder's copy of the file changed after it was seeded, so it no longer matches the swarm's root", 'seed_changed');
}
