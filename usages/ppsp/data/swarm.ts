/**
 * One swarm on one peer (seed §4.4, RFC 7574 §9): what it is (metadata, file, media info), where it
 * is in its life, and its chunk store on disk. Its jobs are in the files beside it: the sessions to
 * other members (swarm-sessions.ts), uploading through the choker (swarm-uploader.ts), fetching the
 * leaf hashes (leaf-hash-fetch.ts) and downloading (swarm-downloader.ts).
 *
 * A seeder opens its complete file and already holds the leaf hashes (hashFile). A leecher learns
 * the metadata from the first answer if it only knows the swarm ID, opens its download (resuming:
 * chunks verified on disk are never fetched again), obtains the leaf hashes checked against the
 * root, and only then advertises what it holds and requests. Every peer uploads what it holds while
 * it downloads. Players read it while it downloads (openReader, whenReadable), and what they read
 * next is fetched first.
 *
 * Peers are found by an injected `peers()` source and reached by an injected `connect` (AppAttach
 * in the usage). Time comes from an injected clock.
 */
import { EventEmitter } from 'node:events';
import { ErrorCode, invalidMessage, ReloadError, silentLogger, systemClock, type Clock, type Logger, type Timer } from '../../../overlay/index.js';
import { Availability, type HaveRange } from '../content/availability.js';
import type { HashedFile } from '../content/chunker.js';
import { LeafHashes } from '../content/leaf-hashes.js';
import { mediaInfoOfFile, type MediaInfo } from '../content/media-info.js';
import { chunkRange, parseSwarmId, type SwarmMetadata } from '../content/swarm-id.js';
import { ChunkStore, type CompleteChunkStore, type DownloadChunkStore } from '../store/chunk-store.js';
import { fileIdentity, SeedFileGuard, type FileIdentity } from '../store/seed-file-guard.js';
import { RECHOKE_INTERVAL_MS } from './choker.js';
import { LeafHashFetch } from './leaf-hash-fetch.js';
import type { PeerSession, SessionHost } from './peer-session.js';
import type { StreamReader } from './stream-readers.js';
import { SwarmDownloader, type DownloaderHost } from './swarm-downloader.js';
import { BUFFER_SCAN_CHUNKS, DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_STREAM_WAIT_MS, DEFAULT_TICK_INTERVAL_MS, newSwarmStats, type SwarmContext, type SwarmOptions, type SwarmProgress, type SwarmStats } from './swarm-options.js';
import { SwarmSessions } from './swarm-sessions.js';
import { SwarmUploader } from './swarm-uploader.js';

export * from './swarm-options.js';

type Phase = 'metadata' | 'opening' | 'running' | 'finishing' | 'complete' | 'stopped';

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
  readonly stats: SwarmStats = newSwarmStats();
  /** Resolves once the file is complete, every chunk verified, and renamed into place. */
  readonly done: Promise<void>;
  /** Why the swarm stopped on its own: the file it serves changed, or a download could not open its file. */
  stoppedBecause: string | undefined;
  private resolveDone!: () => void;
  private rejectDone!: (e: Error) => void;
  private phase: Phase = 'metadata';
  private store: CompleteChunkStore | DownloadChunkStore | undefined;
  /** The store to read from: replaced while a finished download is reopened as complete. */
  private storeReady: Promise<ChunkStore | undefined> = Promise.resolve(undefined);
  private leaves: LeafHashes | undefined;
  private have: Availability | undefined;
  private hashes: LeafHashFetch | undefined;
  private timers: Timer[] = [];
  /** Checks the file we serve from has not changed since it was hashed (seeding, or a finished download). */
  private guard: SeedFileGuard | undefined;
  private readonly metadataWaits = new Set<() => void>();
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly sessions: SwarmSessions;
  private readonly uploader: SwarmUploader;
  private readonly downloader: SwarmDownloader;

  private constructor(
    swarmId: string,
    ctx: SwarmContext,
    private readonly options: SwarmOptions,
    /** The file seeded, or the download's output. */
    readonly path: string,
    readonly role: 'seed' | 'download',
  ) {
    super();
    this.swarmId = parseSwarmId(swarmId);
    this.clock = options.clock ?? systemClock;
    this.log = (options.log ?? silentLogger).child(`ppsp:swarm:${this.swarmId.slice(0, 8)}`);
    this.sessions = new SwarmSessions({ localNodeId: ctx.localNodeId, peers: ctx.peers, connect: (peer) => ctx.connect(peer, this) }, this.stats, { ...options, rng: ctx.random }, this.clock, this.log, (peer) => this.emit('peerGone', peer));
    this.uploader = new SwarmUploader(this.sessions, this.stats, options, ctx, this.clock);
    this.downloader = new SwarmDownloader(this.downloaderHost(), this.sessions, this.stats, options, ctx, this.clock, this.log);
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
    swarm.downloader.setGeometry(metadata.chunkCount, metadata.chunkSize);
    swarm.leaves = LeafHashes.verified(metadata, hashed.leafHashes);
    // Off the caller's turn: seeding returns at once, and the levels are ready before most peers ask.
    setImmediate(() => swarm.leaves?.prepareProofs());
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
    return { have: this.have?.count ?? 0, total: this.metadata?.chunkCount ?? 0, bytesPerSec: this.downloader.rate.perSecond(this.clock.now()), peers: this.sessions.size };
  }

  /** The leaf hashes once known (packed, 32 bytes per chunk), for persisting the swarm. */
  get leafHashes(): Uint8Array | undefined {
    return this.leaves?.packed;
  }

  /** The identity of the complete file we serve, once complete (what its leaf hashes were made from). */
  get fileIdentity(): FileIdentity | undefined {
    return this.guard?.identity;
  }

  /** Whether `chunk` is chunk `index` of this swarm (its length and its leaf hash); false while its leaf hash is unknown. */
  verifyChunk(index: number, chunk: Uint8Array): boolean {
    const metadata = this.metadata;
    if (!metadata) return false;
    const { start, end } = chunkRange(index, metadata.contentLength, metadata.chunkSize);
    if (chunk.length !== end - start) return false;
    return this.leaves ? this.leaves.verifyChunk(index, chunk) : (this.hashes?.partial.verifyChunk(index, chunk) ?? false);
  }

  /** The chunks we hold and can serve (a copy), for availability answers; undefined before the store is open. */
  availability(): Availability | undefined {
    return this.serving ? Availability.fromBitmap(this.have!.chunkCount, this.have!.toBitmap()) : undefined;
  }

  /** Whether the store is open and what it holds is verified: we serve it and say so. */
  private get serving(): boolean {
    return this.have !== undefined && (this.phase === 'running' || this.phase === 'finishing' || this.phase === 'complete');
  }

  /** Whether `peer` told us it holds `chunk`; undefined if we have no session with it or no availability from it. */
  peerHasChunk(peer: string, chunk: number): boolean | undefined {
    const remote = this.sessions.get(peer)?.remote;
    return remote && Number.isSafeInteger(chunk) && chunk >= 0 && chunk < remote.chunkCount ? remote.has(chunk) : undefined;
  }

  /** Node-IDs of the peers with an open session. */
  peerIds(): string[] {
    return this.sessions.ids();
  }

  /** Bytes uploaded to all peers (closed sessions included). */
  get bytesUploaded(): number {
    return this.sessions.bytesUploaded;
  }

  /** Bytes downloaded from all peers (closed sessions included). */
  get bytesDownloaded(): number {
    return this.sessions.bytesDownloaded;
  }

  /** Per peer, bytes uploaded to it over the swarm's life. */
  uploadedTo(peer: string): number {
    return this.sessions.uploadedTo(peer);
  }

  /** Per peer, bytes downloaded from it over the swarm's life. */
  downloadedFrom(peer: string): number {
    return this.sessions.downloadedFrom(peer);
  }

  /** The rate limits of this swarm (bytes/s, 0: none); the node's apply as well. */
  get limits(): { uploadLimit: number; downloadLimit: number } {
    return { uploadLimit: this.uploader.rate, downloadLimit: this.downloader.limitRate };
  }

  /** Changes this swarm's rate limits at once. */
  setLimits(limits: { uploadLimit?: number; downloadLimit?: number }): void {
    if (limits.uploadLimit !== undefined) this.uploader.rate = limits.uploadLimit;
    if (limits.downloadLimit !== undefined) this.downloader.limitRate = limits.downloadLimit;
    this.limitsChanged();
  }

  /** A limit this swarm goes through changed (its own or the node's): waits timed at the old rate end now. */
  limitsChanged(): void {
    this.uploader.limitsChanged();
    this.downloader.limitsChanged();
  }

  /** Stops timers, closes every session and the store (a partial download stays resumable). */
  async stop(): Promise<void> {
    if (this.phase === 'stopped') return;
    const wasComplete = this.phase === 'complete';
    this.phase = 'stopped';
    for (const t of this.timers) t.cancel();
    this.timers = [];
    this.sessions.closeAll();
    if (!wasComplete) this.rejectDone(new ReloadError(ErrorCode.Request_Timeout, 'the swarm was stopped before the download completed', 'stopped'));
    this.downloader.stop(new ReloadError(ErrorCode.Not_Found, `swarm ${this.swarmId} was stopped${this.stoppedBecause ? `: ${this.stoppedBecause}` : ''}`, 'stopped'));
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
    const at = this.downloader.newestReaderPosition();
    if (at === undefined || !this.metadata) return undefined;
    let c = at;
    // Bounded scan: beyond BUFFER_SCAN_CHUNKS a player is far from waiting anyway.
    while (c < this.metadata.chunkCount && c - at < BUFFER_SCAN_CHUNKS && this.isReadable(c)) c++;
    return Math.max(0, Math.min(this.metadata.contentLength, c * this.metadata.chunkSize) - at * this.metadata.chunkSize);
  }

  /** Leaf hashes this download has received and checked (0 for a seed). */
  get leafHashesReceived(): number {
    return this.hashes?.received ?? 0;
  }

  /** Stream readers open now (players reading through the media endpoint). */
  get readerCount(): number {
    return this.downloader.readerCount;
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
    const reader = this.downloader.openReader(chunk);
    if (!reader) throw new ReloadError(ErrorCode.Not_Found, 'the swarm has no metadata yet', 'not_ready');
    return reader;
  }

  /** Whether chunk `index` is verified and stored, so it can be read. */
  isReadable(index: number): boolean {
    return this.serving && this.have!.has(index);
  }

  /** Resolves once chunk `index` can be read (at once if it can); Request_Timeout after the stream wait. */
  whenReadable(index: number, signal?: AbortSignal): Promise<void> {
    if (this.isReadable(index)) return Promise.resolve();
    if (this.phase === 'stopped') return Promise.reject(new ReloadError(ErrorCode.Not_Found, `swarm ${this.swarmId} was stopped`, 'stopped'));
    const why = () => `${this.sessions.size} peer(s) connected, ${this.have?.count ?? 0} of ${this.metadata?.chunkCount ?? '?'} chunks held`;
    return this.downloader.waitFor(index, why, signal);
  }

  // ---- sessions (SessionHost) ------------------------------------------------------------------

  /** Whether this swarm takes a channel from `peer` (not banned, not stopped, metadata known). */
  accepts(peer: string): boolean {
    return this.phase !== 'stopped' && this.metadata !== undefined && !this.stats.banned.has(peer);
  }

  attach(session: PeerSession, metadata: SwarmMetadata): void {
    if (this.phase === 'stopped' || this.stats.banned.has(session.remoteNodeId)) {
      session.close();
      return;
    }
    if (!this.metadata) this.setMetadata(metadata);
    this.learnMedia(session.remoteMedia);
    const added = this.sessions.add(session);
    if (!added) return;
    if (added.replaced) this.downloader.released(added.replaced, false);
    if (this.serving) session.sendAvailability(this.have!);
    this.emitProgress();
  }

  detach(session: PeerSession): void {
    if (!this.sessions.remove(session)) return;
    const peer = session.remoteNodeId;
    this.emit('peerGone', peer);
    this.uploader.peerGone(peer);
    this.hashes?.gone(session, this.sessions.values());
    this.downloader.released(session, true);
    this.emitProgress();
  }

  onAvailability(session: PeerSession, added?: HaveRange): void {
    this.uploader.checkInterest(session);
    if (this.phase === 'running') this.hashes?.ask(this.sessions.values());
    this.downloader.availabilityChanged(session, added);
  }

  onChoke(session: PeerSession): void {
    this.downloader.choked(session);
    this.downloader.pump();
  }

  onUnchoke(): void {
    this.downloader.pump();
  }

  onRequest(session: PeerSession, first: number, last: number): void {
    this.uploader.onRequest(session, first, last, this.serving ? this.have : undefined);
  }

  onHashesRequest(session: PeerSession, first: number, last: number): void {
    this.uploader.onHashesRequest(session, first, last, this.leaves);
  }

  onHashes(session: PeerSession, first: number, hashes: Uint8Array, uncles: Uint8Array): void {
    if (!this.hashes) throw invalidMessage('leaf hashes that were not asked for', 'unexpected_hashes');
    this.hashes.onHashes(session, first, hashes, uncles, this.sessions.values());
  }

  onData(session: PeerSession, index: number, chunk: Uint8Array): void {
    this.downloader.onData(session, index, chunk);
  }

  uploadRunChunks(): number {
    return this.uploader.runChunks(this.metadata!.chunkSize);
  }

  uploadWait(): number {
    return this.uploader.wait();
  }

  chargeUpload(bytes: number): void {
    this.uploader.charge(bytes);
  }

  async readChunksInto(first: number, targets: Uint8Array[]): Promise<void> {
    const store = await this.storeReady;
    if (!store || !this.serving) throw new ReloadError(ErrorCode.Not_Found, 'no chunks to serve yet', 'not_ready');
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
    this.sessions.closeAll(seedChanged());
    void this.stop();
  }

  /** Takes a peer's name and type hints for what we do not know yet; a download's own file name comes last. */
  private learnMedia(hints: MediaInfo): void {
    const own = mediaInfoOfFile(this.path);
    this.media = { name: this.media.name ?? hints.name ?? own.name, type: this.media.type ?? hints.type ?? own.type };
  }

  // ---- downloading -----------------------------------------------------------------------------

  private setMetadata(metadata: SwarmMetadata): void {
    if (metadata.swarmId !== this.swarmId) throw invalidMessage('metadata of another swarm', 'wrong_swarm');
    this.metadata = metadata;
    this.downloader.setGeometry(metadata.chunkCount, metadata.chunkSize);
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
    const have = Availability.fromBitmap(metadata.chunkCount, store.writtenBitmap());
    this.have = have;
    this.stats.resumedChunks = have.count;
    this.hashes = new LeafHashFetch(metadata, { hashesPerFrame: this.options.hashesPerFrame, timeoutMs: this.options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS }, this.clock, {
      known: (first, last) => this.downloader.hashesKnown(first, last),
      complete: (leaves) => {
        this.leaves = leaves;
        this.maybeFinish();
      },
      lied: (session, why) => this.ban(session, why),
    });
    // Chunks are asked for as soon as their own range of leaf hashes is checked, not after all of them.
    this.storeReady = Promise.resolve(store);
    this.phase = 'running';
    this.downloader.start(have.toBitmap());
    for (const s of this.sessions.values()) s.sendAvailability(have);
    this.hashes.ask(this.sessions.values());
    this.emitProgress();
    this.maybeFinish();
  }

  /** What the downloader is given of the swarm. */
  private downloaderHost(): DownloaderHost {
    return {
      isRunning: () => this.phase === 'running',
      verifyChunk: (index, chunk) => this.verifyChunk(index, chunk),
      ban: (session, why) => this.ban(session, why),
      received: (index) => this.emit('chunk', index),
      wanted: (windows) => {
        this.hashes?.urgent(windows);
        this.hashes?.ask(this.sessions.values());
      },
      storeChunk: async (index, chunk) => {
        await (this.store as DownloadChunkStore).write(index, chunk);
        if (this.phase === 'stopped' || !this.have) return false;
        this.have.set(index);
        this.emitProgress();
        this.maybeFinish();
        return true;
      },
    };
  }

  /** Drops a peer for good in this download: ERROR, close, never dialled or accepted again. */
  private ban(session: PeerSession, why: unknown): void {
    this.stats.banned.add(session.remoteNodeId);
    session.fail(why);
  }

  private maybeFinish(): void {
    // Finished once every chunk is held and the whole list of leaf hashes known (to serve them).
    if (this.phase !== 'running' || !this.have?.isComplete || !this.leaves) return;
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
        // A seeder now: its tree's levels are built off this turn, as for a file seeded (not while downloading).
        setImmediate(() => this.leaves?.prepareProofs());
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

  // ---- housekeeping ----------------------------------------------------------------------------

  private startTimers(): void {
    this.timers.push(this.clock.every(this.options.tickIntervalMs ?? DEFAULT_TICK_INTERVAL_MS, () => this.tick()));
    this.timers.push(this.clock.every(this.options.rechokeIntervalMs ?? RECHOKE_INTERVAL_MS, () => this.uploader.rechoke(this.phase === 'complete')));
  }

  private tick(): void {
    if (this.phase === 'stopped') return;
    const now = this.clock.now();
    this.downloader.tick(now);
    this.hashes?.tick(now);
    if (this.phase !== 'complete' && this.phase !== 'finishing') this.sessions.discover(now);
    this.downloader.pump();
  }

  private emitProgress(): void {
    this.emit('progress', this.progress);
  }
}

/** What a seeder whose file changed answers, and what its peers are told. */
function seedChanged(): ReloadError {
  return new ReloadError(ErrorCode.Not_Found, "the seeder's copy of the file changed after it was seeded, so it no longer matches the swarm's root", 'seed_changed');
}
