/**
 * The download side of one swarm: the piece picker across its peers (rarest first, end game,
 * re-issue after a timeout, a CHOKE or a departure; players' windows first), REQUESTs paced by each
 * peer's measured rate and by the download limits, every DATA checked against its trusted leaf hash
 * (a peer that sends a bad chunk gets a strike, at `maxStrikes` it is banned), verified chunks handed
 * to the store (no more requests while too many wait for the disk), HAVEs for what was stored, and
 * the stream readers waiting for chunks.
 */
import { invalidMessage, type Clock, type Logger, type Timer } from '../../../overlay/index.js';
import { consecutiveRuns } from '../content/availability.js';
import { ChunkWaiters } from './chunk-waiters.js';
import type { PeerSession } from './peer-session.js';
import { DEFAULT_REQUESTS_PER_PEER, PiecePicker, type PriorityWindow } from './piece-picker.js';
import { RateLimit, TokenBucket } from './rate-limit.js';
import { RateWindow } from './rate-window.js';
import { StreamReaders, type StreamReader } from './stream-readers.js';
import type { SwarmSessions } from './swarm-sessions.js';
import {
  DEFAULT_MAX_REQUESTS_IN_FLIGHT,
  DEFAULT_MAX_STRIKES,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_STREAM_WAIT_MS,
  DOWNLOAD_QUEUE_SECONDS,
  INITIAL_REQUESTS_PER_PEER,
  LIMITED_QUEUE_SECONDS,
  MAX_PENDING_WRITES,
  MIN_REQUESTS_PER_PEER,
  STREAMING_QUEUE_SECONDS,
  type SwarmContext,
  type SwarmOptions,
  type SwarmStats,
} from './swarm-options.js';

/** What the downloader needs from its swarm. */
export interface DownloaderHost {
  /** Whether requests may go out (the download is running). */
  isRunning(): boolean;
  /** Whether `chunk` is chunk `index` by its leaf hash and length. */
  verifyChunk(index: number, chunk: Uint8Array): boolean;
  /** Writes a verified chunk; resolves true once it is stored and counted as held (false: the swarm stopped). */
  storeChunk(index: number, chunk: Uint8Array): Promise<boolean>;
  /** Drops a peer for good: ERROR, close, never dialled or accepted again. */
  ban(session: PeerSession, why: unknown): void;
  /** A new chunk was verified (before it is written). */
  received(index: number): void;
  /** The players' windows moved: their chunks are wanted first (their leaf hashes, too). */
  wanted(windows: readonly PriorityWindow[]): void;
}

export class SwarmDownloader {
  private picker: PiecePicker<string> | undefined;
  private readonly strikes = new Map<string, number>();
  /** Chunks verified and handed to the store, not yet written. */
  private pendingWrites = 0;
  /** Chunks stored but not yet announced with HAVE (see announce). */
  private unannounced: number[] = [];
  /** Each connected peer's recent delivery rate, which sizes its request queue. */
  private readonly peerRates = new Map<string, RateWindow>();
  /** Bytes of new verified chunks over the last seconds (the progress rate). */
  readonly rate = new RateWindow();
  private readonly bucket: TokenBucket;
  private readonly limit: RateLimit;
  /** The pump that runs once the download limit allows more requests. */
  private throttled: Timer | undefined;
  private readers: StreamReaders | undefined;
  private readonly waiters: ChunkWaiters;
  private chunkCount = 0;
  private chunkSize = 0;
  private stopped = false;

  constructor(
    private readonly host: DownloaderHost,
    private readonly sessions: SwarmSessions,
    private readonly stats: SwarmStats,
    private readonly options: SwarmOptions,
    private readonly ctx: SwarmContext,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.bucket = new TokenBucket(options.downloadLimit ?? 0, clock);
    this.limit = new RateLimit(ctx.nodeLimits ? [this.bucket, ctx.nodeLimits.download] : [this.bucket]);
    this.waiters = new ChunkWaiters(clock);
  }

  /** The swarm's geometry is known: readers may open. */
  setGeometry(chunkCount: number, chunkSize: number): void {
    this.chunkCount = chunkCount;
    this.chunkSize = chunkSize;
    this.readers = new StreamReaders(chunkSize, () => this.clock.now(), () => this.steer());
  }

  /**
   * Starts picking: `have` is what is held already (a resumed download), as a bitmap. Chunks are
   * requested only once their leaf hashes are known (`hashesKnown`).
   */
  start(have: Uint8Array): void {
    this.picker = new PiecePicker<string>(this.chunkCount, { have, hashesKnown: false, rng: this.ctx.random });
    this.steer();
    for (const s of this.sessions.values()) if (s.remote) this.picker.setAvailability(s.remoteNodeId, s.remote.toBitmap());
  }

  /** The leaf hashes of chunks first..last are checked: they may be requested now. */
  hashesKnown(first: number, last: number): void {
    this.picker?.hashesKnown(first, last);
    this.pump();
  }

  stop(why: Error): void {
    this.stopped = true;
    this.throttled?.cancel();
    this.waiters.failAll(why);
  }

  // ---- what peers tell us ----------------------------------------------------------------------

  availabilityChanged(session: PeerSession, added?: { first: number; last: number }): void {
    if (added) this.picker?.addHave(session.remoteNodeId, added.first, added.last);
    else if (session.remote) this.picker?.setAvailability(session.remoteNodeId, session.remote.toBitmap());
    this.pump();
  }

  choked(session: PeerSession): void {
    this.stats.chokedBy.add(session.remoteNodeId);
    // Outstanding requests will not be answered (RFC 7574 §8.12): free them for other holders.
    // They stay in `session.requested`, so DATA already on the wire is still taken if it is needed.
    this.picker?.releaseRequests(session.remoteNodeId);
  }

  /** A session closed or was replaced: its requests go back to the picker. */
  released(session: PeerSession, gone: boolean): void {
    const peer = session.remoteNodeId;
    if (this.picker && session.requested.size > 0) this.picker.releaseRequests(peer);
    session.requested.clear();
    if (!gone) return;
    this.peerRates.delete(peer);
    this.picker?.peerGone(peer);
    this.pump();
  }

  onData(session: PeerSession, index: number, chunk: Uint8Array): void {
    const picker = this.picker;
    if (!picker || !this.host.isRunning()) return;
    const peer = session.remoteNodeId;
    if (!this.host.verifyChunk(index, chunk)) {
      this.stats.corruptCaught++;
      picker.failed(peer, index);
      const strikes = (this.strikes.get(peer) ?? 0) + 1;
      this.strikes.set(peer, strikes);
      this.log.warn(`bad chunk ${index} from ${peer.slice(0, 8)} (strike ${strikes})`);
      if (strikes >= (this.options.maxStrikes ?? DEFAULT_MAX_STRIKES)) this.host.ban(session, invalidMessage(`chunk ${index} does not match its leaf hash`, 'bad_chunk'));
      return;
    }
    if (picker.has(index)) {
      this.stats.duplicates++;
      return;
    }
    for (const other of picker.received(index, peer)) this.sessions.get(other)?.cancel(index);
    this.stats.chunksReceived++;
    const now = this.clock.now();
    this.rate.add(chunk.length, now);
    let peerRate = this.peerRates.get(peer);
    if (!peerRate) this.peerRates.set(peer, (peerRate = new RateWindow()));
    peerRate.add(chunk.length, now);
    this.host.received(index);
    this.pendingWrites++;
    this.host
      .storeChunk(index, chunk)
      .finally(() => {
        this.pendingWrites--;
        this.pump();
      })
      .then(
        (stored) => {
          if (!stored) return;
          this.waiters.notify(index);
          this.announce(index);
        },
        (e: Error) => {
          if (!this.stopped) this.log.warn(`cannot store chunk ${index}: ${e.message}`);
        },
      );
  }

  // ---- requests --------------------------------------------------------------------------------

  /** Issues requests to every unchoked peer with room: players' windows first, then rarest first. */
  pump(): void {
    const picker = this.picker;
    if (!this.host.isRunning() || !picker || picker.complete) return;
    // Backpressure from the disk: chunks verified but not yet written are held in memory, so ask
    // for no more while too many wait (memory stays bounded whatever the file size or peer count).
    if (this.pendingWrites >= MAX_PENDING_WRITES) return;
    if (this.waitForLimit()) return;
    const now = this.clock.now();
    const streaming = (this.readers?.size ?? 0) > 0;
    const maxPerPeer = this.options.requestsPerPeer ?? DEFAULT_REQUESTS_PER_PEER;
    const total = this.options.maxRequestsInFlight ?? DEFAULT_MAX_REQUESTS_IN_FLIGHT;
    const limitRate = this.limit.rate;
    const limited = limitRate === 0 ? Infinity : Math.max(1, Math.floor((limitRate * LIMITED_QUEUE_SECONDS) / this.chunkSize));
    // While a player waits, the fastest holders (by their recent rate) get the first pick of its windows.
    const rate = (s: PeerSession) => this.peerRates.get(s.remoteNodeId)?.perSecond(now) ?? 0;
    const sessions = streaming ? [...this.sessions.values()].sort((a, b) => rate(b) - rate(a)) : this.sessions.values();
    for (const s of sessions) {
      if (!s.ready || s.chokedByRemote || !s.remote) continue;
      const limits = { perPeer: Math.min(limited, this.requestQueue(s.remoteNodeId, maxPerPeer, streaming, now)), total };
      if (streaming) for (const c of picker.preempt(s.remoteNodeId, limits.perPeer)) s.cancel(c);
      const chunks = picker.next(s.remoteNodeId, now, limits);
      if (chunks.length === 0) continue;
      s.request(chunks);
      if (this.limit.charge(chunks.length * this.chunkSize) > 0) return void this.waitForLimit();
    }
  }

  /** Housekeeping: late requests are re-issued (to another holder first), windows follow read rates. */
  tick(now: number): void {
    if (!this.picker || !this.host.isRunning()) return;
    if ((this.readers?.size ?? 0) > 0) this.steer();
    for (const late of this.picker.expire(now, this.options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS)) {
      this.stats.timeouts++;
      this.sessions.get(late.peer)?.cancel(late.chunk);
    }
  }

  /** This swarm's download limit, bytes/s (0: none). */
  get limitRate(): number {
    return this.bucket.rate;
  }

  set limitRate(bytesPerSec: number) {
    this.bucket.rate = bytesPerSec;
  }

  /** The pump waiting for the limits looks again (see Swarm.limitsChanged). */
  limitsChanged(): void {
    this.throttled?.cancel();
    this.throttled = undefined;
    this.pump();
  }

  // ---- stream readers --------------------------------------------------------------------------

  get readerCount(): number {
    return this.readers?.size ?? 0;
  }

  /** The newest reader's position, if any reader is open. */
  newestReaderPosition(): number | undefined {
    return this.readers?.newestPosition();
  }

  /** A reader at `chunk`; undefined before the geometry is known. */
  openReader(chunk: number): StreamReader | undefined {
    return this.readers?.open(chunk);
  }

  /** Waits for chunk `index` to be stored; Request_Timeout after the stream wait, `why` says what is going on. */
  waitFor(index: number, why: () => string, signal?: AbortSignal): Promise<void> {
    return this.waiters.wait(index, this.options.streamWaitMs ?? DEFAULT_STREAM_WAIT_MS, why, signal);
  }

  /** Hands the readers' windows to the picker and asks for them at once. */
  private steer(): void {
    if (!this.picker || !this.readers) return;
    const windows = this.readers.windows(this.chunkCount, this.clock.now());
    this.picker.setPriority(windows);
    this.host.wanted(windows);
    this.pump();
  }

  /** Requests in flight `peer` is given: its rate times the queue time, bounded (see STREAMING_QUEUE_SECONDS). */
  private requestQueue(peer: string, max: number, streaming: boolean, now: number): number {
    const rate = this.peerRates.get(peer)?.perSecond(now);
    // Until a peer has delivered, a middling queue: the rate shows with the first chunks.
    if (!rate) return Math.min(max, INITIAL_REQUESTS_PER_PEER);
    const seconds = streaming ? STREAMING_QUEUE_SECONDS : DOWNLOAD_QUEUE_SECONDS;
    return Math.max(MIN_REQUESTS_PER_PEER, Math.min(max, Math.ceil((rate * seconds) / this.chunkSize)));
  }

  /** True while the download limit is in debt; the pump then runs again once it is not. */
  private waitForLimit(): boolean {
    const wait = this.limit.delay();
    if (wait === 0) return false;
    if (!this.throttled) {
      this.stats.downloadThrottledMs += wait;
      this.throttled = this.clock.after(wait, () => {
        this.throttled = undefined;
        this.pump();
      });
    }
    return true;
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
      if (this.stopped) return;
      for (const range of consecutiveRuns(chunks)) {
        for (const s of this.sessions.values()) if (!s.remote?.hasRange(range)) s.send({ type: 'have', ...range });
      }
    });
  }
}
