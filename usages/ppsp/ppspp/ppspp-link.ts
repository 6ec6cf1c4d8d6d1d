/**
 * The `ppspp` transport of our own swarms (seed §4.5): a Link whose frames are our data-channel
 * messages (data-messages.ts), so the same PeerSession, swarm, picker and chunk store run over it,
 * and whose wire is PPSPP over UDP (RFC 7574 §8). Every message PPSPP has goes as that message:
 *
 *   HANDSHAKE      → HANDSHAKE: version 1, our swarm ID, Merkle tree over SHA-256, 32-bit chunk
 *                    ranges, supported messages; the answer adds the chunk size (§7.11)
 *   AVAILABILITY   → HAVE for each range held;  HAVE, REQUEST, CANCEL, CHOKE, UNCHOKE → the same
 *   DATA           → DATA with our send time, paced by LEDBAT (RFC 6817) from the peer's ACKs,
 *                    which carry its one-way delay samples; a lost chunk is asked for again
 *   a closed link  → the closing HANDSHAKE (source channel 0)
 *
 * The rest has no PPSPP message (METADATA, the leaf-hash request and answer, ERROR): each such frame
 * travels whole in FRAME_PART messages, our one extension (ppspp-context.ts), sent only to a peer
 * that listed it among its supported messages.
 *
 * UDP loses datagrams, and a session expects a pipe that does not: the dialler resends its
 * HANDSHAKE until answered (the answer is resent with it), what we hold and whether we choke are
 * said again every few seconds, and lost chunks and leaf hashes are asked for again by the swarm's
 * own timeouts. The peer's address is its identity here (its Node-ID comes from the transport
 * negotiation over the overlay): content is still checked against the swarm's root, but the
 * channel is neither private nor authenticated, which is why a swarm can require `tls`.
 */
import { EventEmitter } from 'node:events';
import { ErrorCode, idFromHex, ReloadError, type Clock, type Id, type Link, type Logger } from '../../../overlay/index.js';
import { Availability, decodeAvailability } from '../content/availability.js';
import { MAX_CHUNK_COUNT } from '../content/swarm-id.js';
import { DATA_HEADER_BYTES, DATA_MESSAGE_TYPE, decodeDataMessage, encodeDataMessage, PPSP_DATA_VERSION, writeDataHeader, type PpspDataMessage } from '../data/data-messages.js';
import { LedbatFlight } from './ledbat-flight.js';
import { chunksOfSpec, type ChunkSpec } from './ppspp-chunk-spec.js';
import { DEFAULT_PPSPP_CONTEXT, FRAME_PART_TYPE, type PpsppContext } from './ppspp-context.js';
import type { DecodedDatagram } from './ppspp-datagram.js';
import type { ChannelHandler, PpsppEndpoint, UdpAddress } from './ppspp-endpoint.js';
import { MESSAGE_TYPE, MAX_PART_FRAME_BYTES, type PpsppMessage } from './ppspp-messages.js';
import { findOption, PPSPP_VERSION, type ProtocolOption } from './ppspp-options.js';

/** Bytes of a DATA datagram besides its chunk: channel, type, a 32-bit range and the timestamp. */
const DATA_OVERHEAD = 4 + 1 + 8 + 8;
/** Largest datagram of other messages; FRAME_PART parts are cut to fit. */
const MAX_CONTROL_DATAGRAM_BYTES = 16 * 1024;
/** Bytes of a FRAME_PART besides its part. */
const FRAME_PART_OVERHEAD = 1 + 4 + 4 + 4 + 2;
/** Frames being put together from parts at once, and their bytes in all; the oldest goes past either. */
const MAX_FRAMES_IN_ASSEMBLY = 4;
const MAX_ASSEMBLY_BYTES = 2 * 1024 * 1024;
/** HAVE ranges said again per refresh at most (the rest the next time). */
const MAX_HAVES_PER_REFRESH = 512;
/** The message types we take, for the supported-messages option (§7.10). */
const SUPPORTED_MESSAGES = [MESSAGE_TYPE.handshake, MESSAGE_TYPE.data, MESSAGE_TYPE.ack, MESSAGE_TYPE.have, MESSAGE_TYPE.request, MESSAGE_TYPE.cancel, MESSAGE_TYPE.choke, MESSAGE_TYPE.unchoke, FRAME_PART_TYPE];
/** Messages of the answer kept for a dialler's session that is not there yet. */
const MAX_EARLY_MESSAGES = 4096;
/** What our datagrams are encoded by, and our peers' once their HANDSHAKE said the same. */
export const LINK_CONTEXT: PpsppContext = Object.freeze({ ...DEFAULT_PPSPP_CONTEXT, merkleHashFunction: 'sha256', frameParts: true });
/** Decoding our own frames: any chunk the protocol allows (the session checked them against its swarm). */
const OWN_FRAMES = { chunkCount: MAX_CHUNK_COUNT, maxChunkBytes: MAX_PART_FRAME_BYTES };

export interface PpsppLinkTimers {
  /** Between HANDSHAKEs of a dialler not yet answered, ms. */
  handshakeRetryMs: number;
  /** HANDSHAKEs sent before the dial is given up. */
  handshakeTries: number;
  /** Between restatements of what we hold and whether we choke, ms. */
  refreshMs: number;
  /** Quiet time before a keep-alive (§8.14), ms. */
  keepAliveMs: number;
  /** Silence after which the peer is taken for gone, ms. */
  idleTimeoutMs: number;
}

export const DEFAULT_LINK_TIMERS: PpsppLinkTimers = { handshakeRetryMs: 1000, handshakeTries: 4, refreshMs: 3000, keepAliveMs: 10_000, idleTimeoutMs: 60_000 };

export interface PpsppLinkOptions {
  endpoint: PpsppEndpoint;
  peer: UdpAddress;
  remoteNodeIdHex: string;
  /** Chunks waiting for LEDBAT's window at most; send() refuses past it (the peer asks again). */
  queueLimit: number;
  /** LEDBAT's largest window, bytes. */
  maxWindowBytes: number;
  timers: PpsppLinkTimers;
  clock: Clock;
  log: Logger;
  onClosed(link: PpsppLink): void;
}

/** One side of a PPSPP channel between two of our peers, as a Link. */
export class PpsppLink extends EventEmitter implements Link, ChannelHandler {
  readonly remoteNodeId: Id;
  readonly remoteNodeIdHex: string;
  readonly remoteUser = '';
  readonly remoteAddress: string;
  readonly transport = 'ppspp';
  readonly peer: UdpAddress;
  remoteContext: PpsppContext;
  /** Our channel ID (0 until the endpoint gave one). */
  ourId = 0;
  private theirId: number | undefined;
  private isOpen = true;
  private handshook = false;
  private handshakesSent = 0;
  /** A dialler's HANDSHAKE: the swarm it names and its options, sent again until answered. */
  private dialled: { swarmId: Uint8Array; options: readonly ProtocolOption[] } | undefined;
  /** What the answer to a dialler's HANDSHAKE was, sent again if the dialler did not get it. */
  private answer: PpsppMessage[] | undefined;
  private readonly pending: PpsppMessage[] = [];
  private flushQueued = false;
  private readonly dataQueue: { index: number; chunk: Uint8Array }[] = [];
  private flight: LedbatFlight | undefined;
  private chunkCount: number | undefined;
  /** What we told the peer we hold, said again every refresh. */
  private announced: Availability | undefined;
  private haveCursor = 0;
  private choking: 'choke' | 'unchoke' | undefined;
  private nextFrameSeq = 0;
  private readonly assembling = new Map<number, { bytes: Buffer; got: Set<number>; received: number }>();
  private lastHeard: number;
  private lastSent: number;
  private lastRefresh: number;
  /** A dialler's session sent its HANDSHAKE frame (what the peer answered goes to it from then on). */
  private sessionStarted = false;
  /** What the answer brought before the dialler's session was there. */
  private readonly early: PpsppMessage[] = [];
  /** Resolves when a dialler's HANDSHAKE is answered; rejects if the channel closes first. */
  readonly answered: Promise<void>;
  private settle!: (error?: Error) => void;

  constructor(
    private readonly options: PpsppLinkOptions,
    /** Dialling: the swarm we name, and the HANDSHAKE goes to the peer's channel 0. Answering: the peer's channel. */
    private readonly role: { dialler: true; swarmId: string } | { dialler: false; theirId: number; context: PpsppContext },
  ) {
    super();
    this.peer = options.peer;
    this.remoteNodeIdHex = options.remoteNodeIdHex;
    this.remoteNodeId = idFromHex(options.remoteNodeIdHex);
    this.remoteAddress = `${options.peer.host}:${options.peer.port}`;
    // A dialler dials only our own peers: a refusal in FRAME_PART may come before any HANDSHAKE.
    this.remoteContext = role.dialler ? LINK_CONTEXT : role.context;
    if (!role.dialler) this.theirId = role.theirId;
    this.lastHeard = this.lastSent = this.lastRefresh = options.clock.now();
    this.answered = new Promise((resolve, reject) => {
      this.settle = (error) => (error ? reject(error) : resolve());
    });
    this.answered.catch(() => {});
  }

  /**
   * A dialler's HANDSHAKE goes out now, before any session: `answered` then says whether the peer
   * is there (and speaks our frames), so the dialler can take another transport at once.
   */
  start(): void {
    if (!this.role.dialler) return;
    const options = handshakeOptions(Buffer.from(this.role.swarmId, 'hex'));
    this.dialled = { swarmId: Buffer.from(this.role.swarmId, 'hex'), options };
    this.handshakesSent = 1;
    this.queue({ type: 'handshake', sourceChannel: this.ourId, options });
  }

  get open(): boolean {
    return this.isOpen;
  }

  get queuedMessages(): number {
    return this.dataQueue.length;
  }

  get localAddress(): string {
    const a = this.options.endpoint.address();
    return `${a.host}:${a.port}`;
  }

  // ---- frames from our session ----------------------------------------------------------------

  send(bytes: Uint8Array): boolean {
    if (!this.isOpen) return false;
    if (bytes[0] === DATA_MESSAGE_TYPE.data) {
      if (this.dataQueue.length >= this.options.queueLimit) return false;
      this.dataQueue.push({ index: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).readUInt32BE(1), chunk: bytes.subarray(DATA_HEADER_BYTES) });
      this.pump();
      return true;
    }
    this.translate(decodeDataMessage(bytes, OWN_FRAMES), bytes);
    return this.isOpen;
  }

  private translate(m: PpspDataMessage, frame: Uint8Array): void {
    switch (m.type) {
      case 'handshake':
        return this.sendHandshake(m.swarmId);
      case 'metadata':
        this.learnGeometry(m.chunkSize, m.contentLength);
        return this.sendFrame(frame);
      case 'availability': {
        const have = decodeAvailability(m.value, this.chunkCount ?? 0);
        this.announced = have;
        for (const r of have.ranges()) this.queue({ type: 'have', chunks: range(r.first, r.last) });
        return;
      }
      case 'have':
        this.announced?.setRange(m);
        return this.queue({ type: 'have', chunks: range(m.first, m.last) });
      case 'request':
      case 'cancel':
        return this.queue({ type: m.type, chunks: range(m.first, m.last) });
      case 'choke':
      case 'unchoke':
        this.choking = m.type;
        return this.queue({ type: m.type });
      case 'hashesRequest':
      case 'hashes':
      case 'error':
        return this.sendFrame(frame);
      default: {
        // Negotiation never puts a live swarm here; should a session try, the link refuses, as a full one would.
        const why = new ReloadError(ErrorCode.Invalid_Message, `${m.type} does not travel over ppspp (a live swarm's channel is tls or overlay)`, 'not_on_ppspp');
        this.options.log.warn(`ppspp link to ${this.remoteAddress}: ${why.message}`);
        return this.close(why);
      }
    }
  }

  /**
   * Our session's HANDSHAKE. A dialler's went out at start(): the session now takes the answer and
   * what came with it. An answerer's is the answer.
   */
  private sendHandshake(swarmId: Uint8Array): void {
    if (this.role.dialler) {
      if (this.sessionStarted || !this.dialled || !Buffer.from(swarmId).equals(this.dialled.swarmId)) throw new Error('ppspp link: the session names another swarm than the dial');
      this.sessionStarted = true;
      if (this.handshook) this.replayAnswer();
      return;
    }
    this.queue({ type: 'handshake', sourceChannel: this.ourId, options: handshakeOptions() });
    this.handshook = true;
  }

  private replayAnswer(): void {
    this.emitFrame({ type: 'handshake', swarmId: this.dialled!.swarmId, version: PPSP_DATA_VERSION });
    for (const m of this.early.splice(0)) {
      if (!this.isOpen) return;
      this.act(m);
    }
  }

  /** A whole frame of ours in FRAME_PART messages, each cut to fit a control datagram. */
  private sendFrame(frame: Uint8Array): void {
    const seq = this.nextFrameSeq++ >>> 0;
    const most = MAX_CONTROL_DATAGRAM_BYTES - 4 - FRAME_PART_OVERHEAD;
    for (let offset = 0; offset < frame.length; offset += most) {
      this.queue({ type: 'framePart', seq, frameLength: frame.length, offset, part: frame.subarray(offset, offset + most) });
    }
  }

  close(error?: Error): void {
    if (!this.isOpen) return;
    this.flush();
    if (this.theirId !== undefined) this.datagram([{ type: 'handshake', sourceChannel: 0, options: [] }]);
    this.shut(error);
  }

  // ---- datagrams from the peer ----------------------------------------------------------------

  receive(datagram: DecodedDatagram): void {
    if (!this.isOpen) return;
    this.lastHeard = this.options.clock.now();
    for (const m of datagram.messages) {
      if (!this.isOpen) return;
      this.take(m);
    }
    this.flush();
  }

  private take(m: PpsppMessage): void {
    if (m.type === 'handshake') return this.onHandshake(m.sourceChannel, m.options);
    // Nothing counts before the answer but a refusal: what came first belongs to a lost answer.
    if (!this.handshook) return void (m.type === 'framePart' && this.onFramePart(m.seq, m.frameLength, m.offset, m.part));
    // Answered before our session is there: it gets this once it is.
    if (this.role.dialler && !this.sessionStarted) {
      if (this.early.length < MAX_EARLY_MESSAGES) this.early.push(m);
      return;
    }
    this.act(m);
  }

  private act(m: PpsppMessage): void {
    switch (m.type) {
      case 'have':
      case 'request':
      case 'cancel': {
        const { first, last } = chunksOfSpec(m.chunks, `${m.type}.chunks`);
        return this.emitFrame({ type: m.type, first, last });
      }
      case 'choke':
      case 'unchoke':
        return this.emitFrame({ type: m.type });
      case 'data':
        return this.onData(m.chunks, m.timestamp, m.data);
      case 'ack': {
        const { first, last } = chunksOfSpec(m.chunks, 'ack.chunks');
        const now = this.options.clock.now();
        // Our peers ACK one chunk at a time; a wide range costs no more than 64 look-ups.
        for (let i = first; i <= Math.min(last, first + 63); i++) this.flight?.acked(i, Number(m.delaySample), now);
        return this.pump();
      }
      case 'framePart':
        return this.onFramePart(m.seq, m.frameLength, m.offset, m.part);
      default:
        // INTEGRITY, PEX and the rest: our peers do not send them, and what they say we take from our own frames.
        return;
    }
  }

  private onHandshake(sourceChannel: number, options: readonly ProtocolOption[]): void {
    if (sourceChannel === 0) return this.shut();
    if (!this.role.dialler) {
      // Again: the dialler did not get our answer, which goes again as it was.
      if (this.handshook) return void (this.answer && this.datagrams(this.answer));
      const swarmId = findOption(options, 'swarmId');
      if (swarmId) this.emitFrame({ type: 'handshake', swarmId, version: PPSP_DATA_VERSION });
      return;
    }
    if (this.handshook || !this.dialled) return;
    if (!findOption(options, 'supportedMessages')?.includes(FRAME_PART_TYPE)) {
      this.close(new ReloadError(ErrorCode.Incompatible_with_Overlay, `${this.remoteAddress} does not speak our frames over PPSPP`, 'not_our_peer'));
      return;
    }
    this.theirId = sourceChannel;
    this.handshook = true;
    this.settle();
    if (this.sessionStarted) this.replayAnswer();
  }

  private onData(spec: ChunkSpec, timestamp: bigint, data: Uint8Array): void {
    const { first, last } = chunksOfSpec(spec, 'data.chunks');
    if (first !== last) return; // our peers send one chunk per DATA
    const frame = Buffer.allocUnsafe(DATA_HEADER_BYTES + data.length);
    writeDataHeader(frame, first);
    frame.set(data, DATA_HEADER_BYTES);
    const delaySample = BigInt.asUintN(64, BigInt(this.options.clock.now()) * 1000n - timestamp);
    this.queue({ type: 'ack', chunks: spec, delaySample });
    this.emit('message', frame);
  }

  private onFramePart(seq: number, frameLength: number, offset: number, part: Uint8Array): void {
    let frame = this.assembling.get(seq);
    if (!frame) {
      let held = frameLength;
      for (const f of this.assembling.values()) held += f.bytes.length;
      for (const [oldest, f] of this.assembling) {
        if (this.assembling.size < MAX_FRAMES_IN_ASSEMBLY && held <= MAX_ASSEMBLY_BYTES) break;
        this.assembling.delete(oldest);
        held -= f.bytes.length;
      }
      frame = { bytes: Buffer.alloc(frameLength), got: new Set(), received: 0 };
      this.assembling.set(seq, frame);
    }
    if (frame.bytes.length !== frameLength || frame.got.has(offset) || offset + part.length > frameLength) return;
    frame.got.add(offset);
    frame.bytes.set(part, offset);
    frame.received += part.length;
    if (frame.received < frameLength) return;
    this.assembling.delete(seq);
    const m = decodeDataMessage(frame.bytes, OWN_FRAMES);
    if (!this.handshook) {
      // The peer refused the channel (an unknown swarm, a ban): the dial fails with its reason.
      if (m.type === 'error') this.shut(new ReloadError(m.code, m.text, 'refused'));
      return;
    }
    if (m.type === 'metadata') this.learnGeometry(m.chunkSize, m.contentLength);
    this.emit('message', frame.bytes);
  }

  private emitFrame(m: PpspDataMessage): void {
    this.emit('message', encodeDataMessage(m));
  }

  private learnGeometry(chunkSize: number, contentLength: number): void {
    if (this.flight) return;
    this.chunkCount = Math.ceil(contentLength / chunkSize);
    const mss = chunkSize + DATA_OVERHEAD;
    this.flight = new LedbatFlight({ mss, maxCwnd: Math.max(this.options.maxWindowBytes, 2 * mss) });
  }

  // ---- sending --------------------------------------------------------------------------------

  /** DATA as LEDBAT's window allows, one chunk per datagram. */
  private pump(): void {
    const flight = this.flight;
    if (!flight || !this.handshook) return;
    while (this.isOpen && this.dataQueue.length > 0 && flight.room() >= this.dataQueue[0]!.chunk.length + DATA_OVERHEAD) {
      const { index, chunk } = this.dataQueue.shift()!;
      const now = this.options.clock.now();
      const bytes = this.datagram([{ type: 'data', chunks: range(index, index), timestamp: BigInt(now) * 1000n, data: chunk }]);
      flight.sent(index, bytes, now);
    }
  }

  private queue(m: PpsppMessage): void {
    this.pending.push(m);
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => this.flush());
  }

  private flush(): void {
    this.flushQueued = false;
    if (this.pending.length === 0 || !this.isOpen) return;
    const messages = this.pending.splice(0);
    // The answer to a dialler: our HANDSHAKE, the METADATA and the HAVEs the session sent in one turn.
    if (!this.role.dialler && this.handshook && !this.answer) this.answer = messages;
    this.datagrams(messages);
  }

  /** Packs messages into datagrams of at most MAX_CONTROL_DATAGRAM_BYTES. */
  private datagrams(messages: readonly PpsppMessage[]): void {
    let batch: PpsppMessage[] = [];
    let size = 4;
    for (const m of messages) {
      const bytes = approximateSize(m);
      if (batch.length > 0 && size + bytes > MAX_CONTROL_DATAGRAM_BYTES) {
        this.datagram(batch);
        batch = [];
        size = 4;
      }
      batch.push(m);
      size += bytes;
    }
    if (batch.length > 0) this.datagram(batch);
  }

  private datagram(messages: readonly PpsppMessage[]): number {
    this.lastSent = this.options.clock.now();
    return this.options.endpoint.send(this.peer, this.theirId ?? 0, messages, LINK_CONTEXT);
  }

  // ---- time -----------------------------------------------------------------------------------

  /** Handshake retries, losses, restatements, keep-alives and the idle timeout; the transport's timer calls it. */
  tick(): void {
    if (!this.isOpen) return;
    const now = this.options.clock.now();
    const { timers } = this.options;
    if (now - this.lastHeard > timers.idleTimeoutMs) return this.close(new ReloadError(ErrorCode.Request_Timeout, `nothing from ${this.remoteAddress} for ${timers.idleTimeoutMs} ms`, 'idle'));
    if (!this.handshook) return this.retryHandshake(now);
    this.flight?.expire(now);
    this.pump();
    if (now - this.lastRefresh >= timers.refreshMs) this.refresh(now);
    if (now - this.lastSent > timers.keepAliveMs) this.datagram([]);
  }

  private retryHandshake(now: number): void {
    if (!this.dialled || now - this.lastSent < this.options.timers.handshakeRetryMs) return;
    if (this.handshakesSent >= this.options.timers.handshakeTries) {
      this.close(new ReloadError(ErrorCode.Request_Timeout, `no PPSPP answer from ${this.remoteAddress} to ${this.handshakesSent} HANDSHAKEs`, 'unreachable'));
      return;
    }
    this.handshakesSent++;
    this.datagram([{ type: 'handshake', sourceChannel: this.ourId, options: this.dialled.options }]);
  }

  /** Says again what we hold (a slice of it at a time) and whether we choke: UDP may have lost it. */
  private refresh(now: number): void {
    this.lastRefresh = now;
    if (this.choking) this.queue({ type: this.choking });
    const ranges = this.announced ? [...this.announced.ranges()] : [];
    if (this.haveCursor >= ranges.length) this.haveCursor = 0;
    for (const r of ranges.slice(this.haveCursor, this.haveCursor + MAX_HAVES_PER_REFRESH)) this.queue({ type: 'have', chunks: range(r.first, r.last) });
    this.haveCursor += MAX_HAVES_PER_REFRESH;
  }

  private shut(error?: Error): void {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.settle(error ?? new ReloadError(ErrorCode.Not_Found, `${this.remoteAddress} closed the PPSPP channel`, 'closed'));
    this.early.length = 0;
    this.pending.length = 0;
    this.dataQueue.length = 0;
    this.assembling.clear();
    this.options.onClosed(this);
    this.emit('close', error);
  }
}

/** Our HANDSHAKE's options (ascending, §7): a dialler's names the swarm. */
function handshakeOptions(swarmId?: Uint8Array): ProtocolOption[] {
  return [
    { kind: 'version', value: PPSPP_VERSION },
    { kind: 'minimumVersion', value: PPSPP_VERSION },
    ...(swarmId ? [{ kind: 'swarmId' as const, value: swarmId }] : []),
    { kind: 'contentIntegrityProtectionMethod', value: 'merkleHashTree' },
    { kind: 'merkleHashTreeFunction', value: 'sha256' },
    { kind: 'chunkAddressingMethod', value: 'chunkRanges32' },
    { kind: 'supportedMessages', value: SUPPORTED_MESSAGES },
  ];
}

function range(first: number, last: number): ChunkSpec {
  return { addressing: 'chunkRanges32', start: first, end: last };
}

/** A message's encoded size, near enough to pack datagrams (only FRAME_PART and DATA are large). */
function approximateSize(m: PpsppMessage): number {
  if (m.type === 'framePart') return FRAME_PART_OVERHEAD + m.part.length;
  if (m.type === 'handshake') return 128;
  return 24;
}
