/**
 * One data channel of a live swarm: the same channel and framing as a static swarm's
 * (peer-session.ts), with the live handshake and messages. The dialler sends HANDSHAKE(swarm ID);
 * the answerer answers HANDSHAKE and LIVE_METADATA (the descriptor the ID is the hash of, and a
 * chunk-rate hint); both then send HAVE for every chunk they hold and get, REQUEST what they lack,
 * and answer REQUESTs with LIVE_DATA from memory. What is wanted, from whom, and whether a chunk is
 * good is the swarm's (live-swarm.ts).
 *
 * Untrusted input never crashes the process: a frame that does not decode, or that the swarm
 * refuses, is answered with ERROR (the RELOAD code and reason) and the channel is closed.
 */
import { type Clock, ErrorCode, invalidMessage, type Link, type Logger, ReloadError, type Timer } from '../../../overlay/index.js';
import { decodeDataMessage, encodeDataMessage, errorMessageOf, PPSP_DATA_VERSION, type PpspDataMessage, type SwarmBounds, BEFORE_HANDSHAKE } from '../data/data-messages.js';
import type { LiveChunk } from './live-chunk.js';
import { MAX_WINDOW_CHUNKS } from './live-descriptor.js';

/** A dialled channel whose answer (HANDSHAKE and LIVE_METADATA) has not come in this long is closed (ms). */
export const LIVE_HANDSHAKE_TIMEOUT_MS = 10_000;
/** Chunks one REQUEST may name at most. */
export const MAX_LIVE_REQUEST_CHUNKS = 64;

/** What a live session needs from its swarm. */
export interface LiveSessionHost {
  readonly swarmId: string;
  /** The encoded descriptor, once known (a viewer learns it from its first answer). */
  readonly descriptorBytes: Uint8Array | undefined;
  /** Largest chunk, once known. */
  readonly chunkSize: number | undefined;
  /** Our measure of the channel's chunk rate, chunks per 1,000 s (0: unknown). */
  chunksPerKilosecond(): number;
  /** The handshake is done; a dialler's host checks the descriptor here (throwing refuses the peer). */
  attach(session: LiveSession, descriptor: Uint8Array, chunksPerKilosecond: number): void;
  onHave(session: LiveSession, first: number, last: number): void;
  onRequest(session: LiveSession, first: number, last: number): void;
  /** LIVE_DATA for a chunk asked of this peer; `requestedAt` is when we asked. */
  onData(session: LiveSession, chunk: LiveChunk, requestedAt: number): void;
  onChoke(session: LiveSession): void;
  onUnchoke(session: LiveSession): void;
  /** The channel closed (once, for an attached session). */
  detach(session: LiveSession): void;
}

export type LiveSessionRole = { role: 'dialler'; host: LiveSessionHost } | { role: 'answerer'; host: LiveSessionHost };

export class LiveSession {
  readonly remoteNodeId: string;
  readonly initiator: boolean;
  readonly stats = { bytesUp: 0, bytesDown: 0, chunksUp: 0, chunksDown: 0, unrequested: 0 };
  /** Chunks the peer said it holds (the swarm prunes those behind its window). */
  readonly remote = new Set<number>();
  /** The newest chunk the peer said it holds (-1: none). */
  remoteNewest = -1;
  chokedByRemote = false;
  /** We choke the peer: its requests are not answered. */
  chokingRemote = false;
  /** Chunks asked of this peer and not yet received nor cancelled, with when they were asked. */
  readonly requested = new Map<number, number>();
  remoteError: string | undefined;
  private state: 'handshake' | 'metadata' | 'ready' | 'closed' = 'handshake';
  private bounds: SwarmBounds = BEFORE_HANDSHAKE;
  private handshakeTimer: Timer | undefined;
  private settle: { ready(): void; refused(e: Error): void } | undefined;
  /**
   * Resolves when the handshake is done; rejects if the channel closed first (the peer refused,
   * e.g. it has no descriptor yet), so a dialler can leave that peer alone for a while.
   */
  readonly handshake: Promise<void> = new Promise((ready, refused) => (this.settle = { ready, refused }));

  constructor(
    readonly link: Link,
    private readonly role: LiveSessionRole,
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {
    this.remoteNodeId = link.remoteNodeIdHex;
    this.initiator = role.role === 'dialler';
    link.on('message', (bytes) => this.receive(bytes));
    link.on('close', () => this.closed());
    if (role.role === 'dialler') {
      this.send({ type: 'handshake', swarmId: Buffer.from(role.host.swarmId, 'hex'), version: PPSP_DATA_VERSION });
      this.handshakeTimer = clock.after(LIVE_HANDSHAKE_TIMEOUT_MS, () => {
        if (!this.ready) this.fail(new ReloadError(ErrorCode.Request_Timeout, `no answer to HANDSHAKE in ${LIVE_HANDSHAKE_TIMEOUT_MS / 1000} s`, 'handshake_timeout'));
      });
    } else {
      // The router read the peer's HANDSHAKE already (ppsp-data-usage.ts): answer it.
      const host = role.host;
      this.send({ type: 'handshake', swarmId: Buffer.from(host.swarmId, 'hex'), version: PPSP_DATA_VERSION });
      this.send({ type: 'liveMetadata', descriptor: host.descriptorBytes!, chunksPerKilosecond: host.chunksPerKilosecond() });
      this.becomeReady(host.descriptorBytes!, host.chunksPerKilosecond());
    }
  }

  get ready(): boolean {
    return this.state === 'ready';
  }

  get isOpen(): boolean {
    return this.state !== 'closed';
  }

  private get host(): LiveSessionHost {
    return this.role.host;
  }

  send(message: PpspDataMessage): boolean {
    if (this.state === 'closed') return false;
    return this.link.send(encodeDataMessage(message));
  }

  /** REQUEST for `chunks` (ascending), one message per run of consecutive indices. */
  request(chunks: number[]): void {
    const at = this.clock.now();
    for (let i = 0; i < chunks.length; ) {
      let j = i;
      while (j + 1 < chunks.length && chunks[j + 1] === chunks[j]! + 1 && j - i + 1 < MAX_LIVE_REQUEST_CHUNKS) j++;
      this.send({ type: 'request', first: chunks[i]!, last: chunks[j]! });
      i = j + 1;
    }
    for (const c of chunks) this.requested.set(c, at);
  }

  cancel(chunk: number): void {
    if (this.requested.delete(chunk)) this.send({ type: 'cancel', first: chunk, last: chunk });
  }

  /** LIVE_DATA for a chunk; false if the link dropped it (closed or congested). */
  sendChunk(c: LiveChunk): boolean {
    if (!this.send({ type: 'liveData', index: c.index, timestampMs: c.timestampMs, flags: c.flags, signature: c.signature, chunk: c.bytes })) return false;
    this.stats.bytesUp += c.bytes.length;
    this.stats.chunksUp++;
    return true;
  }

  choke(): void {
    if (this.chokingRemote) return;
    this.chokingRemote = true;
    this.send({ type: 'choke' });
  }

  unchoke(): void {
    if (!this.chokingRemote) return;
    this.chokingRemote = false;
    this.send({ type: 'unchoke' });
  }

  /** Sends ERROR with the code and reason of `error` and closes. */
  fail(error: unknown): void {
    if (this.state === 'closed') return;
    const message = errorMessageOf(error);
    this.log.debug(`live session with ${this.remoteNodeId.slice(0, 8)} failed: ${message.text}`);
    this.send(message);
    this.close();
  }

  close(): void {
    if (this.state === 'closed') return;
    this.link.close();
    this.closed();
  }

  private receive(bytes: Uint8Array): void {
    if (this.state === 'closed') return;
    try {
      this.handle(decodeDataMessage(bytes, this.bounds));
    } catch (e) {
      this.fail(e);
    }
  }

  private handle(m: PpspDataMessage): void {
    if (m.type === 'error') {
      this.log.debug(`${this.remoteNodeId.slice(0, 8)} sent ERROR ${m.code}: ${m.text}`);
      this.remoteError = m.text;
      this.close();
      return;
    }
    if (this.state === 'handshake') {
      if (m.type !== 'handshake') throw invalidMessage(`${m.type} before HANDSHAKE`, 'before_handshake');
      if (m.version !== PPSP_DATA_VERSION) throw new ReloadError(ErrorCode.Incompatible_with_Overlay, `version ${m.version} is not ${PPSP_DATA_VERSION}`, 'bad_version');
      if (Buffer.from(m.swarmId).toString('hex') !== this.host.swarmId) throw invalidMessage('the answer names another swarm', 'wrong_swarm');
      this.state = 'metadata';
      return;
    }
    if (this.state === 'metadata') {
      if (m.type === 'metadata') throw invalidMessage('the peer serves this swarm as a file, not as a live channel', 'not_live');
      if (m.type !== 'liveMetadata') throw invalidMessage(`${m.type} before LIVE_METADATA`, 'before_handshake');
      return this.becomeReady(m.descriptor, m.chunksPerKilosecond);
    }
    this.onReady(m);
  }

  private becomeReady(descriptor: Uint8Array, chunksPerKilosecond: number): void {
    this.handshakeTimer?.cancel();
    this.state = 'ready';
    this.settle?.ready();
    this.host.attach(this, descriptor, chunksPerKilosecond);
    // Any u32 index is a position in a live swarm; the swarm checks it against its window.
    this.bounds = { chunkCount: 0x1_0000_0000, maxChunkBytes: this.host.chunkSize! };
  }

  private onReady(m: PpspDataMessage): void {
    switch (m.type) {
      case 'have':
        // Nobody holds more than a discard window: a wider HAVE is a lie that would cost a long loop.
        if (m.last - m.first + 1 > MAX_WINDOW_CHUNKS) throw invalidMessage(`HAVE of ${m.last - m.first + 1} chunks is wider than any discard window`, 'out_of_range');
        for (let c = m.first; c <= m.last; c++) this.remote.add(c);
        if (m.last > this.remoteNewest) this.remoteNewest = m.last;
        return this.host.onHave(this, m.first, m.last);
      case 'request':
        if (m.last - m.first + 1 > MAX_LIVE_REQUEST_CHUNKS) throw new ReloadError(ErrorCode.Forbidden, `more than ${MAX_LIVE_REQUEST_CHUNKS} chunks in one request`, 'too_many_requests');
        // A peer that asks while choked did not take our CHOKE in: say it again rather than drop in silence.
        if (this.chokingRemote) return void this.send({ type: 'choke' });
        return this.host.onRequest(this, m.first, m.last);
      case 'cancel':
        return; // answered at once from memory: nothing queued to drop
      case 'choke':
        // Outstanding requests will not be answered (RFC 7574 §8.12): they are free to go elsewhere.
        this.requested.clear();
        this.chokedByRemote = true;
        return this.host.onChoke(this);
      case 'unchoke':
        this.chokedByRemote = false;
        return this.host.onUnchoke(this);
      case 'liveData': {
        const at = this.requested.get(m.index);
        if (at === undefined) {
          this.stats.unrequested++;
          return;
        }
        this.requested.delete(m.index);
        this.stats.bytesDown += m.chunk.length;
        this.stats.chunksDown++;
        return this.host.onData(this, { index: m.index, timestampMs: m.timestampMs, flags: m.flags, bytes: m.chunk, signature: m.signature }, at);
      }
      default:
        throw invalidMessage(`${m.type} is not a live-swarm message`, 'not_live');
    }
  }

  private closed(): void {
    if (this.state === 'closed') return;
    const wasReady = this.state === 'ready';
    this.state = 'closed';
    this.handshakeTimer?.cancel();
    this.settle?.refused(new ReloadError(ErrorCode.Not_Found, `the session closed before its handshake: ${this.remoteError ?? 'no reason given'}`, 'session_refused'));
    if (wasReady) this.host.detach(this);
  }
}
