/**
 * One PPSP data channel to one peer over a Link (RFC 7574 §8 in spirit; a direct TLS channel
 * opened with AppAttach, RFC 6940 §6.5.2): the handshake, framing and decoding against the swarm's
 * bounds, the remote peer's availability, who chokes whom, the requests each side has open, and
 * byte counters. What to request and whether to serve is the swarm's (swarm.ts): the session hands
 * it every decoded message after the handshake.
 *
 * Handshake: the dialling side sends HANDSHAKE(swarm ID); the answering side looks the swarm up
 * and answers HANDSHAKE + METADATA (root hash, length, chunk size), or ERROR(Not_Found,
 * `unknown_swarm`) and closes. The dialler checks the metadata against the swarm ID it asked for
 * (metadataOfSwarm: the ID commits to all three). Each side then sends AVAILABILITY once it can
 * serve proofs, and HAVE for every chunk it adds.
 *
 * Untrusted input never crashes the process: a frame that does not decode, or that the swarm
 * refuses, is answered with ERROR (the RELOAD code and reason) and the channel is closed.
 */
import { ErrorCode, invalidMessage, systemClock, type Clock, type Link, type Logger, ReloadError, type Timer } from '../../../overlay/index.js';
import { Availability, decodeAvailability, encodeAvailability, type HaveRange } from '../content/availability.js';
import {
  BEFORE_HANDSHAKE,
  decodeDataMessage,
  errorMessageOf,
  DATA_HEADER_BYTES,
  encodeDataMessage,
  writeDataHeader,
  PPSP_DATA_VERSION,
  type PpspDataMessage,
  type SwarmBounds,
} from './data-messages.js';
import { chunkRange, metadataOfSwarm, type SwarmMetadata } from '../content/swarm-id.js';
import { mediaInfoFromHints, type MediaInfo } from '../content/media-info.js';

/** Chunks a peer may have asked of us and not yet received; more is an error (`too_many_requests`). */
export const DEFAULT_MAX_QUEUED_UPLOADS = 256;
/** Runs of chunks being read from disk at once per session while uploading. */
export const DEFAULT_READS_IN_FLIGHT = 4;
/**
 * Consecutive requested chunks read with one positioned read at most (256 KiB at 16 KiB chunks):
 * one system call per run instead of one per chunk, and memory per session stays bounded.
 */
export const MAX_UPLOAD_RUN_CHUNKS = 16;

/** What a session needs from the swarm it belongs to. */
export interface SessionHost {
  /** The swarm's metadata, once known (a dialler may learn it from the answer). */
  readonly metadata: SwarmMetadata | undefined;
  /** The file name and media type we announce with the metadata. */
  readonly media: MediaInfo;
  /** The handshake is done and the metadata verified; the session may be used. */
  attach(session: PeerSession, metadata: SwarmMetadata): void;
  // Each message after the handshake, once the session has done its own part (throwing a
  // ReloadError answers ERROR and closes):
  /** AVAILABILITY replaced, or a HAVE (`added`) extended, what the peer holds (`session.remote`). */
  onAvailability(session: PeerSession, added?: HaveRange): void;
  /** CHOKE: outstanding requests will not be answered; UNCHOKE: requests are welcome again. */
  onChoke(session: PeerSession): void;
  onUnchoke(session: PeerSession): void;
  /** REQUEST first..last (already bounded by the session's upload queue). */
  onRequest(session: PeerSession, first: number, last: number): void;
  onHashesRequest(session: PeerSession, first: number, last: number): void;
  onHashes(session: PeerSession, first: number, hashes: Uint8Array, uncles: Uint8Array): void;
  /** DATA for a chunk we asked this peer for. */
  onData(session: PeerSession, index: number, chunk: Uint8Array): void;
  /** The channel closed (once, for an attached session). */
  detach(session: PeerSession): void;
  /** Ms until the upload rate limits let the next run go (0: now). */
  uploadWait(): number;
  /** Takes `bytes` of upload from the rate limits (they may go into debt: uploadWait says for how long). */
  chargeUpload(bytes: number): void;
  /** Chunks one upload run may take: fewer under a rate limit, so a run does not hold a read slot for long. */
  uploadRunChunks(): number;
  /** Reads held chunks `first`, `first + 1`, ... into `targets`, one each, exactly its length; rejects if they cannot be read. */
  readChunksInto(first: number, targets: Uint8Array[]): Promise<void>;
}

export type SessionRole =
  /** We dialled: we name the swarm. */
  | { role: 'dialler'; swarmId: string; host: SessionHost }
  /** We answered: the HANDSHAKE names the swarm, looked up here. */
  | { role: 'answerer'; resolve(swarmId: string, remoteNodeId: string): SessionHost | undefined };

export interface PeerSessionOptions {
  /** See DEFAULT_MAX_QUEUED_UPLOADS (chunks). */
  maxQueuedUploads?: number;
  /** See DEFAULT_READS_IN_FLIGHT. */
  readsInFlight?: number;
  log: Logger;
  /** Times the wait for the upload rate limits (default: the system clock). */
  clock?: Clock;
}

/** Counters of one session (bytes are chunk bytes only, not headers or proofs). */
export interface SessionStats {
  bytesUp: number;
  bytesDown: number;
  chunksUp: number;
  chunksDown: number;
  /** DATA for chunks not asked of this peer (cancelled meanwhile, or unsolicited): ignored. */
  unrequested: number;
}

/** A data channel bound to one swarm and one remote Node-ID. */
export class PeerSession {
  readonly remoteNodeId: string;
  readonly initiator: boolean;
  readonly stats: SessionStats = { bytesUp: 0, bytesDown: 0, chunksUp: 0, chunksDown: 0, unrequested: 0 };
  /** What the remote peer holds: undefined until its AVAILABILITY arrives. */
  remote: Availability | undefined;
  /** The remote peer chokes us: our requests would be dropped until UNCHOKE. */
  chokedByRemote = false;
  /** Chunks we asked of this peer and have neither received nor cancelled. */
  readonly requested = new Set<number>();
  /** The file name and media type the answering peer announced (checked hints; a dialler's only). */
  remoteMedia: MediaInfo = {};
  private host: SessionHost | undefined;
  private metadata: SwarmMetadata | undefined;
  private bounds: SwarmBounds = BEFORE_HANDSHAKE;
  private state: 'handshake' | 'metadata' | 'ready' | 'closed' = 'handshake';
  /** The text of the ERROR the peer closed with, if it did (its swarm tells the user why it left). */
  remoteError: string | undefined;
  /** Chunks the remote asked of us, in order, not yet sent. */
  private readonly uploads = new Set<number>();
  /** Chunks being read for upload right now, and how many runs they make. */
  private readonly reading = new Set<number>();
  private runsReading = 0;
  /** The one timer that resumes uploads once the rate limits allow (cancelled on close). */
  private throttle: Timer | undefined;
  private readonly maxQueuedUploads: number;
  private readonly log: Logger;

  constructor(
    readonly link: Link,
    private readonly role: SessionRole,
    private readonly options: PeerSessionOptions,
  ) {
    this.remoteNodeId = link.remoteNodeIdHex;
    this.initiator = role.role === 'dialler';
    this.maxQueuedUploads = options.maxQueuedUploads ?? DEFAULT_MAX_QUEUED_UPLOADS;
    this.log = options.log;
    link.on('message', (bytes) => this.receive(bytes));
    link.on('close', () => this.closed());
    if (role.role === 'dialler') {
      this.host = role.host;
      this.send({ type: 'handshake', swarmId: Buffer.from(role.swarmId, 'hex'), version: PPSP_DATA_VERSION });
    }
  }

  get isOpen(): boolean {
    return this.state !== 'closed';
  }

  get ready(): boolean {
    return this.state === 'ready';
  }

  /** Chunks the remote has asked for and we have not sent yet. */
  get queuedUploads(): number {
    return this.uploads.size;
  }

  // ---- sending ---------------------------------------------------------------------------------

  /** One message, one frame. False if the link dropped it (closed or its queue full). */
  send(message: PpspDataMessage): boolean {
    if (this.state === 'closed') return false;
    return this.link.send(encodeDataMessage(message));
  }

  /** AVAILABILITY: everything we hold (the smaller of bitmap and ranges). */
  sendAvailability(have: Availability): void {
    this.send({ type: 'availability', value: encodeAvailability(have) });
  }

  /**
   * REQUEST for `chunks`, one message per run of consecutive indices, in the order given (the
   * uploader serves requests in the order they come, and the picker names the most urgent first);
   * recorded in `requested`.
   */
  request(chunks: number[]): void {
    for (let i = 0; i < chunks.length; ) {
      let j = i;
      while (j + 1 < chunks.length && chunks[j + 1] === chunks[j]! + 1) j++;
      this.send({ type: 'request', first: chunks[i]!, last: chunks[j]! });
      i = j + 1;
    }
    for (const c of chunks) this.requested.add(c);
  }

  /** CANCEL for one chunk asked of this peer (another peer delivered it, or it timed out). */
  cancel(chunk: number): void {
    if (this.requested.delete(chunk)) this.send({ type: 'cancel', first: chunk, last: chunk });
  }

  /** Queues chunks first..last for upload (the swarm decided to serve them). */
  queueUploads(chunks: Iterable<number>): void {
    for (const c of chunks) {
      if (this.uploads.size >= this.maxQueuedUploads) throw new ReloadError(ErrorCode.Forbidden, `more than ${this.maxQueuedUploads} chunks requested at once`, 'too_many_requests');
      this.uploads.add(c);
    }
    this.pumpUploads();
  }

  /** The rate limits changed: a wait timed at the old rate ends now. */
  resumeUploads(): void {
    this.throttle?.cancel();
    this.throttle = undefined;
    this.pumpUploads();
  }

  /** Drops queued uploads of first..last (a CANCEL, or the peer is choked now). */
  dropUploads(first = 0, last = Infinity): void {
    for (const c of [...this.uploads]) if (c >= first && c <= last) this.uploads.delete(c);
  }

  /**
   * Sends ERROR with the code and reason of `error` and closes. A ReloadError's reason travels in
   * the text as `reason: message`.
   */
  fail(error: unknown): void {
    if (this.state === 'closed') return;
    const message = errorMessageOf(error);
    this.log.debug(`session with ${this.remoteNodeId.slice(0, 8)} failed: ${message.text}`);
    this.send(message);
    this.close();
  }

  close(): void {
    if (this.state === 'closed') return;
    this.link.close();
    this.closed();
  }

  // ---- receiving -------------------------------------------------------------------------------

  /** One frame from the peer (the link's messages; the first one may come from the usage's router). */
  receive(bytes: Uint8Array): void {
    if (this.state === 'closed') return;
    let message: PpspDataMessage;
    try {
      message = decodeDataMessage(bytes, this.bounds);
    } catch (e) {
      this.fail(e);
      return;
    }
    try {
      this.handle(message);
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
    switch (this.state) {
      case 'handshake':
        if (m.type !== 'handshake') throw invalidMessage(`${m.type} before HANDSHAKE`, 'before_handshake');
        if (m.version !== PPSP_DATA_VERSION) throw new ReloadError(ErrorCode.Incompatible_with_Overlay, `version ${m.version} is not ${PPSP_DATA_VERSION}`, 'bad_version');
        return this.onHandshake(Buffer.from(m.swarmId).toString('hex'));
      case 'metadata':
        if (m.type === 'liveMetadata') throw invalidMessage('the peer serves this swarm as a live channel, not as a file', 'live_swarm');
        if (m.type !== 'metadata') throw invalidMessage(`${m.type} before METADATA`, 'before_handshake');
        this.remoteMedia = mediaInfoFromHints(m.name, m.mediaType);
        return this.onMetadata(m.rootHash, m.contentLength, m.chunkSize);
      case 'ready':
        return this.onReady(m);
    }
  }

  private onHandshake(swarmId: string): void {
    if (this.role.role === 'dialler') {
      if (swarmId !== this.role.swarmId) throw invalidMessage('the answer names another swarm', 'wrong_swarm');
      this.state = 'metadata';
      return;
    }
    const host = this.role.resolve(swarmId, this.remoteNodeId);
    const metadata = host?.metadata;
    if (!host || !metadata) throw new ReloadError(ErrorCode.Not_Found, `swarm ${swarmId.slice(0, 16)}… is not served here`, 'unknown_swarm');
    this.host = host;
    this.send({ type: 'handshake', swarmId: Buffer.from(swarmId, 'hex'), version: PPSP_DATA_VERSION });
    this.send({ type: 'metadata', rootHash: metadata.rootHash, contentLength: metadata.contentLength, chunkSize: metadata.chunkSize, name: host.media.name, mediaType: host.media.type });
    this.becomeReady(metadata);
  }

  private onMetadata(rootHash: Uint8Array, contentLength: number, chunkSize: number): void {
    const swarmId = (this.role as { swarmId: string }).swarmId;
    // Bad geometry is refused, and the ID must commit to it all (and says whether it is tls-only).
    const metadata = metadataOfSwarm(swarmId, rootHash, contentLength, chunkSize);
    const known = this.host!.metadata;
    if (known && known.swarmId !== metadata.swarmId) throw invalidMessage('metadata of another swarm', 'wrong_swarm');
    this.becomeReady(metadata);
  }

  private becomeReady(metadata: SwarmMetadata): void {
    this.metadata = metadata;
    this.bounds = { chunkCount: metadata.chunkCount, maxChunkBytes: metadata.chunkSize };
    this.state = 'ready';
    this.host!.attach(this, metadata);
  }

  /** Every message after the handshake: the session's own part, then the swarm's, each once. */
  private onReady(m: PpspDataMessage): void {
    const host = this.host!;
    switch (m.type) {
      case 'handshake':
      case 'metadata':
        throw invalidMessage(`a second ${m.type}`, 'repeated_handshake');
      case 'availability':
        this.remote = decodeAvailability(m.value, this.metadata!.chunkCount);
        return host.onAvailability(this);
      case 'have':
        this.remote ??= new Availability(this.metadata!.chunkCount);
        this.remote.setRange(m);
        return host.onAvailability(this, m);
      case 'choke':
        this.chokedByRemote = true;
        return host.onChoke(this);
      case 'unchoke':
        this.chokedByRemote = false;
        return host.onUnchoke(this);
      case 'cancel':
        return this.dropUploads(m.first, m.last);
      case 'request':
        // Checked before the swarm loops over the range: a REQUEST for millions of chunks costs nothing.
        if (m.last - m.first + 1 + this.uploads.size > this.maxQueuedUploads) {
          throw new ReloadError(ErrorCode.Forbidden, `more than ${this.maxQueuedUploads} chunks requested at once`, 'too_many_requests');
        }
        return host.onRequest(this, m.first, m.last);
      case 'hashesRequest':
        return host.onHashesRequest(this, m.first, m.last);
      case 'hashes':
        return host.onHashes(this, m.first, m.hashes, m.uncles);
      case 'data':
        if (!this.requested.delete(m.index)) {
          this.stats.unrequested++;
          return;
        }
        this.stats.bytesDown += m.chunk.length;
        this.stats.chunksDown++;
        return host.onData(this, m.index, m.chunk);
      case 'error':
        // Handled before any state (handle): it closes the session.
        return;
      case 'liveMetadata':
      case 'liveData':
        throw invalidMessage(`${m.type} on a file's channel`, 'live_swarm');
    }
  }

  private closed(): void {
    if (this.state === 'closed') return;
    const wasReady = this.state === 'ready';
    this.state = 'closed';
    this.uploads.clear();
    this.throttle?.cancel();
    this.throttle = undefined;
    if (wasReady) this.host!.detach(this);
  }

  // ---- uploading -------------------------------------------------------------------------------

  /**
   * Sends queued chunks, reading up to `readsInFlight` runs of consecutive ones from disk at once
   * (order is free: each DATA names its chunk), each chunk then one frame. A run is read straight
   * into its frames, past their headers, so no chunk is copied on the way out. Under a rate limit
   * a run starts only when the limits are out of debt and is charged before it is read, so a run
   * that waits holds no chunks read long ago; the wait is one timer.
   */
  private pumpUploads(): void {
    const limit = this.options.readsInFlight ?? DEFAULT_READS_IN_FLIGHT;
    while (this.state === 'ready' && this.runsReading < limit && !this.throttle) {
      const run = this.nextRun();
      if (!run) return;
      const wait = this.host!.uploadWait();
      if (wait > 0) {
        this.throttle = (this.options.clock ?? systemClock).after(wait, () => {
          this.throttle = undefined;
          this.pumpUploads();
        });
        return;
      }
      const { contentLength, chunkSize } = this.metadata!;
      this.host!.chargeUpload(chunkRange(run.last, contentLength, chunkSize).end - chunkRange(run.first, contentLength, chunkSize).start);
      for (let c = run.first; c <= run.last; c++) this.reading.add(c);
      this.runsReading++;
      void this.uploadRun(run.first, run.last).finally(() => {
        for (let c = run.first; c <= run.last; c++) this.reading.delete(c);
        this.runsReading--;
        this.pumpUploads();
      });
    }
  }

  /** The first queued chunk not being read, and the queued chunks that follow it, up to MAX_UPLOAD_RUN_CHUNKS. */
  private nextRun(): { first: number; last: number } | undefined {
    for (const first of this.uploads) {
      if (this.reading.has(first)) continue;
      let last = first;
      const most = Math.min(MAX_UPLOAD_RUN_CHUNKS, this.host!.uploadRunChunks());
      while (last - first + 1 < most && this.uploads.has(last + 1) && !this.reading.has(last + 1)) last++;
      return { first, last };
    }
    return undefined;
  }

  private async uploadRun(first: number, last: number): Promise<void> {
    const { contentLength, chunkSize } = this.metadata!;
    const frames: Buffer[] = [];
    for (let c = first; c <= last; c++) {
      const { start, end } = chunkRange(c, contentLength, chunkSize);
      const frame = Buffer.allocUnsafe(DATA_HEADER_BYTES + end - start);
      writeDataHeader(frame, c);
      frames.push(frame);
    }
    try {
      await this.host!.readChunksInto(first, frames.map((f) => f.subarray(DATA_HEADER_BYTES)));
    } catch (e) {
      for (let c = first; c <= last; c++) this.uploads.delete(c);
      this.log.debug(`cannot upload chunks ${first}..${last}: ${(e as Error).message}`);
      return;
    }
    for (const [i, frame] of frames.entries()) {
      const c = first + i;
      // Cancelled, choked or closed while waiting or reading.
      if (!this.uploads.delete(c) || this.state !== 'ready') continue;
      if (!this.link.send(frame)) return;
      this.stats.bytesUp += frame.length - DATA_HEADER_BYTES;
      this.stats.chunksUp++;
    }
  }
}
