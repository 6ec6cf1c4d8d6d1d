/**
 * A live channel as one node takes part in it: as its source (cutting and signing an input) or as a
 * viewer (playing it, and forwarding what it got to other viewers). Both hold the discard window of
 * signed chunks (live-window.ts), tell every peer of each chunk they get (HAVE), and answer requests
 * from memory.
 *
 * The source answers only `sourceSlots` peers at a time (the others are choked until a slot frees),
 * so its upload stays a small share however many watch: the rest comes from viewers. A viewer checks
 * the descriptor against the swarm ID and the source's certificate against the overlay's root, then
 * every chunk against the source's signature; a peer that sends one that fails is dropped and not
 * dialled again. Its playback (live-playback.ts) gives each chunk its deadline, and the scheduler
 * (live-scheduler.ts) asks for chunks by deadline.
 */
import { EventEmitter } from 'node:events';
import type { KeyObject } from 'node:crypto';
import { type Clock, ErrorCode, type Logger, ReloadError, silentLogger, systemClock, type Timer } from '../../../overlay/index.js';
import { type SessionDialling, SwarmSessions } from '../data/swarm-sessions.js';
import type { PeerRef } from '../data/swarm-options.js';
import { checkLiveChunk, LIVE_FLAG_LAST, signLiveChunk, type LiveChunk } from './live-chunk.js';
import { LiveCutter } from './live-cutter.js';
import { checkLiveSwarmId, encodeLiveDescriptor, liveSwarmIdOf, type LiveDescriptor } from './live-descriptor.js';
import { LivePlayback, type PlaybackFigures } from './live-playback.js';
import { LiveScheduler } from './live-scheduler.js';
import type { LiveSession, LiveSessionHost } from './live-session.js';
import { LiveWindow } from './live-window.js';

/** MPEG-TS packets are 188 bytes: chunks of a TS channel hold whole packets. */
const MPEG_TS_PACKET_BYTES = 188;
/** Peers the source serves at once. */
export const DEFAULT_SOURCE_SLOTS = 4;
/** How far behind the newest chunk a viewer starts, ms of the channel. */
export const DEFAULT_STARTUP_MS = 3_000;
/** Of the channel, what a viewer holds from its start point on before it begins to play, ms. */
export const DEFAULT_PREBUFFER_MS = 1_000;
/** A partial chunk goes out this long after its first byte came in (ms). */
export const DEFAULT_FLUSH_MS = 100;
/** Viewer housekeeping period: playback, requests, timeouts (ms). */
export const LIVE_TICK_MS = 100;
/** Sessions a viewer dials at most, and answers at most (twice that). */
export const DEFAULT_LIVE_MAX_PEERS = 8;
/**
 * Sessions the source answers at most: all but `sourceSlots` of them are choked and only hear of
 * new chunks, which costs a HAVE each; refusing them would have them dial again and again.
 */
export const MAX_SOURCE_SESSIONS = 64;
/** A broadcast whose input sent nothing this long ends, as if its input ended (its sender is gone). */
export const DEFAULT_INPUT_IDLE_MS = 60_000;
/** A stream that sees no new chunk this long ends (the channel stopped without a last chunk). */
export const LIVE_IDLE_END_MS = 30_000;

export interface LiveSwarmOptions {
  clock?: Clock;
  log?: Logger;
  sourceSlots?: number;
  startupMs?: number;
  prebufferMs?: number;
  flushMs?: number;
  maxPeers?: number;
  redialIntervalMs?: number;
  /** Requests in flight to one peer at most. */
  perPeerInFlight?: number;
  urgentMs?: number;
  requestTimeoutMs?: number;
  maxStallMs?: number;
  maxLagMs?: number;
  /** See DEFAULT_INPUT_IDLE_MS. */
  inputIdleMs?: number;
}

/** The source's certificate, checked against the overlay's root. */
export interface CheckedSource {
  publicKey: KeyObject;
  nodeIdHex: string;
}

/** What the usage gives a live swarm. */
export interface LiveContext {
  localNodeId: string;
  /** Opens a data channel to a member with a live session for `host` on it. */
  connect(nodeId: string, host: LiveSessionHost): Promise<void>;
  peers?: () => Promise<PeerRef[]>;
  /** Verifies a certificate against the overlay's root now (throws ReloadError Forbidden). */
  checkCertificate(der: Uint8Array): CheckedSource;
  /** Uniform in [0, 1): the node's random source (dial order); default Math.random. */
  random?: () => number;
}

/** The figures `GET /swarms/<id>` and /metrics show for a live swarm. */
export interface LiveFigures {
  swarmId: string;
  role: 'live-source' | 'live-viewer';
  name: string | null;
  type: string | null;
  newest: number;
  held: number;
  peers: string[];
  chunksPerSec: number;
  bytesFromSource: number;
  bytesFromPeers: number;
  /** Share of the bytes this viewer got that came from the source (null before any). */
  sourceShare: number | null;
  uploadedBytes: number;
  requests: number;
  duplicates: number;
  timeouts: number;
  refused: number;
  banned: string[];
  playback: PlaybackFigures | null;
  ended: boolean;
}

export class LiveSwarm extends EventEmitter implements LiveSessionHost {
  readonly swarmId: string;
  descriptor: LiveDescriptor | undefined;
  descriptorBytes: Uint8Array | undefined;
  /** The held chunks; replaced once, when a viewer learns the channel's window size. */
  window: LiveWindow;
  playback: LivePlayback | undefined;
  stopped = false;
  /** The input ended (source) or the last chunk was played (viewer). */
  ended = false;
  private source: CheckedSource | undefined;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly sessions: SwarmSessions<LiveSession>;
  private readonly stats = { uploadedTo: new Map<string, number>(), downloadedFrom: new Map<string, number>(), banned: new Set<string>(), peerErrors: new Map<string, string>() };
  private readonly scheduler: LiveScheduler;
  private rateHint = 0;
  private refused = 0;
  private timer: Timer | undefined;
  private cutter: LiveCutter | undefined;
  private sign: ((data: Uint8Array) => Uint8Array) | undefined;
  private lastTimestamp = 0;
  private scheduled = false;
  /** Positions below this are forgotten in every session (prune). */
  private prunedBelow = 0;

  private constructor(
    swarmId: string,
    readonly role: 'live-source' | 'live-viewer',
    private readonly ctx: LiveContext,
    private readonly options: LiveSwarmOptions,
    windowChunks: number,
  ) {
    super();
    // Every open stream of the channel listens for 'changed'; the API's connection limit bounds them.
    this.setMaxListeners(0);
    this.swarmId = swarmId;
    this.clock = options.clock ?? systemClock;
    this.log = (options.log ?? silentLogger).child(`ppsp:live:${swarmId.slice(0, 8)}`);
    this.window = this.newWindow(windowChunks);
    const dialling: SessionDialling = { localNodeId: ctx.localNodeId, peers: ctx.peers, connect: (peer) => ctx.connect(peer, this) };
    this.sessions = new SwarmSessions<LiveSession>(dialling, this.stats, { maxPeers: options.maxPeers ?? DEFAULT_LIVE_MAX_PEERS, redialIntervalMs: options.redialIntervalMs, rng: ctx.random }, this.clock, this.log, () => {});
    this.scheduler = new LiveScheduler({
      perPeerInFlight: options.perPeerInFlight ?? 16,
      urgentMs: options.urgentMs ?? 1_500,
      lateFloorMs: 300,
      requestTimeoutMs: options.requestTimeoutMs ?? 3_000,
    });
  }

  /** Starts a channel with `descriptor`, whose certificate is this node's; `sign` is this node's key. */
  static source(descriptor: LiveDescriptor, sign: (data: Uint8Array) => Uint8Array, ctx: LiveContext, options: LiveSwarmOptions = {}): LiveSwarm {
    const bytes = encodeLiveDescriptor(descriptor);
    const swarm = new LiveSwarm(liveSwarmIdOf(bytes), 'live-source', ctx, options, descriptor.windowChunks);
    swarm.descriptor = descriptor;
    swarm.descriptorBytes = bytes;
    swarm.source = ctx.checkCertificate(descriptor.sourceCert);
    swarm.sign = sign;
    const align = descriptor.mediaType === 'video/mp2t' ? MPEG_TS_PACKET_BYTES : 1;
    swarm.cutter = new LiveCutter(descriptor.chunkSize, align, options.flushMs ?? DEFAULT_FLUSH_MS, swarm.clock, (chunk, last) => swarm.cut(chunk, last));
    return swarm;
  }

  /** Joins channel `swarmId` as a viewer; the descriptor comes from the first peer that answers. */
  static viewer(swarmId: string, ctx: LiveContext, options: LiveSwarmOptions = {}): LiveSwarm {
    const swarm = new LiveSwarm(swarmId, 'live-viewer', ctx, options, 1);
    swarm.timer = swarm.clock.every(LIVE_TICK_MS, () => swarm.tick());
    swarm.sessions.discover(swarm.clock.now());
    return swarm;
  }

  get chunkSize(): number | undefined {
    return this.descriptor?.chunkSize;
  }

  /** The source's Node-ID, once the descriptor is known. */
  get sourceId(): string | undefined {
    return this.source?.nodeIdHex;
  }

  // ---- the source's input ----------------------------------------------------------------------

  /** More bytes of the broadcast (source only). */
  write(data: Uint8Array): void {
    if (this.ended || this.stopped) throw new ReloadError(ErrorCode.Forbidden, `live channel ${this.swarmId} has ended`, 'channel_ended');
    this.cutter!.write(data);
    this.timer?.cancel();
    this.timer = this.clock.after(this.options.inputIdleMs ?? DEFAULT_INPUT_IDLE_MS, () => {
      this.log.warn(`no input for ${(this.options.inputIdleMs ?? DEFAULT_INPUT_IDLE_MS) / 1000} s: the broadcast ends`);
      this.endInput();
    });
  }

  /** The broadcast's input ended: the rest goes out as the last chunk. */
  endInput(): void {
    this.timer?.cancel();
    this.cutter!.end();
  }

  private cut(bytes: Buffer, last: boolean): void {
    if (this.stopped) return;
    // Timestamps never go back, even if the clock does: they order the viewers' deadlines.
    const timestampMs = Math.max(this.lastTimestamp, this.clock.now());
    this.lastTimestamp = timestampMs;
    const chunk = signLiveChunk(this.swarmId, { index: this.window.newest + 1, timestampMs, flags: last ? LIVE_FLAG_LAST : 0, bytes }, this.sign!);
    this.take({ ...chunk, arrivedAt: this.clock.now() });
    if (last) this.ended = true;
  }

  // ---- sessions (LiveSessionHost) --------------------------------------------------------------

  chunksPerKilosecond(): number {
    return this.window.chunksPerKilosecond() || this.rateHint;
  }

  /** Takes a session the usage answered for this swarm, unless its peer is banned or the swarm is full. */
  accepts(peer: string): boolean {
    const most = this.role === 'live-source' ? MAX_SOURCE_SESSIONS : 2 * (this.options.maxPeers ?? DEFAULT_LIVE_MAX_PEERS);
    return !this.stopped && this.descriptorBytes !== undefined && !this.stats.banned.has(peer) && this.sessions.size < most;
  }

  attach(session: LiveSession, descriptor: Uint8Array, chunksPerKilosecond: number): void {
    if (this.stopped) return session.close();
    if (!this.descriptorBytes) this.learn(descriptor);
    else if (Buffer.compare(Buffer.from(descriptor), Buffer.from(this.descriptorBytes)) !== 0) throw new ReloadError(ErrorCode.Forbidden, 'the peer describes this channel differently', 'wrong_swarm');
    this.rateHint = Math.max(this.rateHint, chunksPerKilosecond);
    if (!this.sessions.add(session)) return;
    for (const run of this.window.runs()) session.send({ type: 'have', ...run });
    if (this.role === 'live-source') this.allot(session);
  }

  onHave(session: LiveSession, _first: number, last: number): void {
    if (this.role === 'live-viewer' && this.playback?.state === 'joining' && last > this.window.newest) {
      this.playback.aim(this.playback.startPoint(this.newestKnown(), this.chunksPerKilosecond()));
    }
    void session;
    this.soon();
  }

  onRequest(session: LiveSession, first: number, last: number): void {
    for (let c = first; c <= last; c++) {
      const chunk = this.window.get(c);
      if (chunk && !session.sendChunk(chunk)) return;
    }
  }

  onData(session: LiveSession, chunk: LiveChunk, requestedAt: number): void {
    const now = this.clock.now();
    this.scheduler.answered(session.remoteNodeId, now - requestedAt);
    // Asked for, so not a stray: one that fell behind the window on its way is just too late.
    if (this.window.has(chunk.index) || !this.window.inWindow(chunk.index)) return;
    try {
      checkLiveChunk(this.swarmId, chunk, this.source!.publicKey);
    } catch (e) {
      this.refused++;
      this.stats.banned.add(session.remoteNodeId);
      throw e;
    }
    // The signature covers the bytes, which are a view into the frame: keep a copy of our own.
    this.take({ ...chunk, bytes: Buffer.from(chunk.bytes), signature: Buffer.from(chunk.signature), arrivedAt: now });
    for (const s of this.sessions.values()) if (s !== session) s.cancel(chunk.index);
    if (chunk.flags & LIVE_FLAG_LAST) this.ended = true;
  }

  onChoke(): void {}

  onUnchoke(): void {
    this.soon();
  }

  detach(session: LiveSession): void {
    if (!this.sessions.remove(session)) return;
    this.scheduler.forget(session.remoteNodeId);
    if (this.role === 'live-source' && !session.chokingRemote) this.fillSlots();
    this.soon();
  }

  // ---- the viewer's side -----------------------------------------------------------------------

  private learn(descriptor: Uint8Array): void {
    const d = checkLiveSwarmId(descriptor, this.swarmId);
    this.source = this.ctx.checkCertificate(d.sourceCert);
    this.descriptor = d;
    this.descriptorBytes = Uint8Array.from(descriptor);
    this.window = this.newWindow(d.windowChunks);
    this.playback = new LivePlayback(this.window, { startupMs: this.options.startupMs ?? DEFAULT_STARTUP_MS, maxStallMs: this.options.maxStallMs ?? 2_000, maxLagMs: this.options.maxLagMs ?? 15_000, prebufferMs: this.options.prebufferMs ?? DEFAULT_PREBUFFER_MS }, this.clock.now());
    this.emit('descriptor');
  }

  private newWindow(windowChunks: number): LiveWindow {
    const window = new LiveWindow(windowChunks);
    window.on('changed', () => this.emit('changed'));
    return window;
  }

  /** The newest chunk any peer (or we) hold. */
  private newestKnown(): number {
    let newest = this.window.newest;
    for (const s of this.sessions.values()) if (s.remoteNewest > newest) newest = s.remoteNewest;
    return newest;
  }

  /** Where a stream opened at the source starts: the start-up distance behind its newest chunk. */
  sourceStreamStart(): number {
    return Math.max(this.window.oldest, this.window.newest - this.startupChunks() + 1);
  }

  private msPerChunk(): number {
    const rate = this.chunksPerKilosecond();
    return rate > 0 ? 1_000_000 / rate : 100;
  }

  private startupChunks(): number {
    return Math.max(1, Math.ceil(((this.options.startupMs ?? DEFAULT_STARTUP_MS) * this.chunksPerKilosecond()) / 1_000_000));
  }

  /** Runs the scheduler once more in this turn's end (many HAVEs in a row cost one pass). */
  private soon(): void {
    if (this.role !== 'live-viewer' || this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.schedule();
    });
  }

  private tick(): void {
    if (this.stopped) return;
    const now = this.clock.now();
    this.sessions.discover(now);
    const p = this.playback;
    if (!p) return;
    const wasEnded = p.state === 'ended';
    p.tick(now, this.msPerChunk(), this.startupChunks());
    if (!wasEnded && p.state === 'ended') this.emit('changed');
    this.prune();
    this.schedule();
  }

  private schedule(): void {
    const p = this.playback;
    if (this.stopped || !p || p.state === 'ended') return;
    if (p.position < 0) {
      const newest = this.newestKnown();
      if (newest < 0) return;
      p.aim(p.startPoint(newest, this.chunksPerKilosecond()));
    }
    const msPerChunk = this.msPerChunk();
    // Half the window ahead at most: what is further ahead is more than the window's time from playing.
    const prefetch = Math.floor(this.window.windowChunks / 2);
    this.scheduler.schedule(this.clock.now(), Math.max(p.position, this.window.oldest), this.newestKnown(), prefetch, [...this.sessions.values()], {
      has: (i) => this.window.has(i),
      deadline: (i) => p.deadline(i, msPerChunk),
      sourceId: this.sourceId,
    });
  }

  /** Forgets what peers hold behind the window. */
  private prune(): void {
    const oldest = this.window.oldest;
    if (oldest <= this.prunedBelow) return;
    // Only the positions the window left since the last time: the cost follows the channel, not the window.
    const from = Math.max(this.prunedBelow, oldest - this.window.windowChunks);
    for (const s of this.sessions.values()) {
      for (let c = from; c < oldest; c++) {
        s.remote.delete(c);
        s.requested.delete(c);
      }
    }
    this.prunedBelow = oldest;
  }

  // ---- both --------------------------------------------------------------------------------------

  /** A checked chunk is ours: keep it, tell every peer. */
  private take(chunk: LiveChunk & { arrivedAt: number }): void {
    if (!this.window.add(chunk)) return;
    for (const s of this.sessions.values()) if (s.ready) s.send({ type: 'have', first: chunk.index, last: chunk.index });
    // Viewers prune on their tick; the source has none.
    if (this.role === 'live-source') this.prune();
  }

  /** A new session at the source: served if a slot is free, else choked until one is. */
  private allot(session: LiveSession): void {
    const served = [...this.sessions.values()].filter((s) => s !== session && !s.chokingRemote).length;
    if (served >= (this.options.sourceSlots ?? DEFAULT_SOURCE_SLOTS)) session.choke();
  }

  /** A served peer left: the longest-waiting choked one takes its slot. */
  private fillSlots(): void {
    const slots = this.options.sourceSlots ?? DEFAULT_SOURCE_SLOTS;
    let served = [...this.sessions.values()].filter((s) => !s.chokingRemote).length;
    for (const s of this.sessions.values()) {
      if (served >= slots) return;
      if (s.chokingRemote) {
        s.unchoke();
        served++;
      }
    }
  }

  figures(): LiveFigures {
    const fromSource = this.sourceId ? this.sessions.downloadedFrom(this.sourceId) : 0;
    const total = this.sessions.bytesDownloaded;
    const rate = this.chunksPerKilosecond();
    return {
      swarmId: this.swarmId,
      role: this.role,
      name: this.descriptor?.name ?? null,
      type: this.descriptor?.mediaType ?? null,
      newest: this.window.newest,
      held: this.window.size,
      peers: this.sessions.ids(),
      chunksPerSec: rate / 1000,
      bytesFromSource: fromSource,
      bytesFromPeers: total - fromSource,
      sourceShare: total > 0 ? fromSource / total : null,
      uploadedBytes: this.sessions.bytesUploaded,
      ...this.scheduler.counts,
      refused: this.refused,
      banned: [...this.stats.banned],
      playback: this.playback?.figures(this.clock.now()) ?? null,
      ended: this.ended,
    };
  }

  /** Closes every session and stops the timers. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.timer?.cancel();
    this.cutter?.end();
    this.sessions.closeAll();
    this.emit('changed');
    this.emit('stopped');
  }
}
