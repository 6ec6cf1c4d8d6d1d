/**
 * One peer of a PPSPP download (RFC 7574 §3): its channel, what it holds by its HAVEs, whether it
 * chokes us, the chunks asked of it in the order asked, and how fast they come. The download
 * (ppspp-download.ts) decides what to ask of whom; this keeps each peer's own account.
 */
import type { Clock } from '../../../overlay/index.js';
import { DEFAULT_PPSPP_CONTEXT, type PpsppContext } from './ppspp-context.js';
import type { DecodedDatagram } from './ppspp-datagram.js';
import type { ChannelHandler, PpsppEndpoint, UdpAddress } from './ppspp-endpoint.js';
import type { PpsppMessage } from './ppspp-messages.js';
import type { ProtocolOption } from './ppspp-options.js';
import { hostPort } from './ppspp-service.js';

/** Chunks a later-requested chunk may overtake before the earlier one counts as lost. */
const REORDER_CHUNKS = 8;
/** HAVE ranges kept from a peer before the chunk count is known. */
const MAX_EARLY_HAVES = 1024;

export class DownloadPeer implements ChannelHandler {
  remoteContext: PpsppContext = DEFAULT_PPSPP_CONTEXT;
  ourId = 0;
  theirId: number | undefined;
  lastHeard: number;
  lastSent = 0;
  private lastHandshake = -Infinity;
  /** Chunks asked of this peer → when, and the request's place in our order (insertion order is that order). */
  readonly requested = new Map<number, { at: number; seq: number }>();
  private requestSeq = 0;
  private lastArrival: number | undefined;
  /** The mean time between new chunks from this peer, ms. */
  arrivalMs = 0;
  /** What it holds by its HAVEs; undefined before any. */
  private holds: Uint8Array | undefined;
  private heldCount = 0;
  /** Its HAVEs covered everything: a seeder. */
  private holdsAll = false;
  private readonly earlyHaves: { first: number; last: number }[] = [];
  choked = false;
  /** HAVEs of ours to tell it with the next datagram. */
  private readonly haves: { first: number; last: number }[] = [];
  lastPexAt = -Infinity;

  constructor(
    readonly peer: UdpAddress,
    /** The user named it: it serves the content, so it holds everything until its HAVEs say otherwise. */
    readonly named: boolean,
    private readonly endpoint: PpsppEndpoint,
    private readonly localContext: PpsppContext,
    private readonly clock: Clock,
    private readonly onDatagram: (peer: DownloadPeer, datagram: DecodedDatagram) => void,
  ) {
    this.lastHeard = clock.now();
  }

  get address(): string {
    return hostPort(this.peer);
  }

  receive(datagram: DecodedDatagram): void {
    this.lastHeard = this.clock.now();
    this.onDatagram(this, datagram);
  }

  /** Whether it holds chunk `index`, as far as we know. */
  has(index: number): boolean {
    return this.holdsAll || (this.holds ? this.holds[index] === 1 : this.named);
  }

  /** A HAVE of chunks first..last (cut to `chunkCount` once known). */
  noteHave(first: number, last: number, chunkCount: number | undefined): void {
    if (chunkCount === undefined) {
      if (this.earlyHaves.length < MAX_EARLY_HAVES) this.earlyHaves.push({ first, last });
      return;
    }
    if (this.holdsAll) return;
    const holds = (this.holds ??= new Uint8Array(chunkCount));
    for (let i = first; i <= Math.min(last, chunkCount - 1); i++) {
      if (holds[i]) continue;
      holds[i] = 1;
      this.heldCount++;
    }
    if (this.heldCount < chunkCount) return;
    // Everything: later HAVEs (a seeder may repeat them in every datagram) cost nothing.
    this.holdsAll = true;
    this.holds = undefined;
  }

  /** The chunk count is known: HAVEs that came before it count now. */
  sized(chunkCount: number): void {
    for (const r of this.earlyHaves.splice(0)) this.noteHave(r.first, r.last, chunkCount);
  }

  asked(index: number, now: number): void {
    this.requested.set(index, { at: now, seq: this.requestSeq++ });
  }

  /**
   * Chunk `index` came. A sender serves requests in order, so chunks asked well before it that have
   * not come were lost: they are given back (returned) to be asked for again now, not after the timeout.
   */
  arrived(index: number): number[] {
    const request = this.requested.get(index);
    this.requested.delete(index);
    if (!request) return [];
    const lost: number[] = [];
    for (const [earlier, { seq }] of this.requested) {
      if (seq >= request.seq - REORDER_CHUNKS) break;
      this.requested.delete(earlier);
      lost.push(earlier);
    }
    return lost;
  }

  /** A new chunk from this peer: its pace sets how long its other requests may take. */
  noteArrival(): void {
    const now = this.clock.now();
    if (this.lastArrival !== undefined) this.arrivalMs = 0.9 * this.arrivalMs + 0.1 * (now - this.lastArrival);
    this.lastArrival = now;
  }

  /**
   * Requests that waited longer than the whole window takes at this peer's pace (twice over) and
   * at least `minimumMs`: a slow peer is not a lossy one. Returns them, taken back.
   */
  expire(now: number, minimumMs: number): number[] {
    const timeout = Math.max(minimumMs, 2 * this.requested.size * this.arrivalMs);
    const late: number[] = [];
    for (const [index, { at }] of this.requested) if (now - at > timeout) late.push(index);
    for (const index of late) this.requested.delete(index);
    return late;
  }

  /** Everything asked of it, taken back (it choked us or is gone). */
  takeBackAll(): number[] {
    const all = [...this.requested.keys()];
    this.requested.clear();
    return all;
  }

  /** A HAVE of ours for it, coalesced with the one before when they touch. */
  tell(first: number, last: number): void {
    const prev = this.haves.at(-1);
    if (prev && first === prev.last + 1) prev.last = last;
    else this.haves.push({ first, last });
  }

  /** Sends `messages` with the HAVEs waiting (nothing before the peer answered). */
  send(messages: readonly PpsppMessage[]): void {
    if (this.theirId === undefined) return;
    const haves = this.haves.splice(0).map(({ first, last }): PpsppMessage => ({ type: 'have', chunks: { addressing: 'chunkRanges32', start: first, end: last } }));
    const all = [...messages, ...haves];
    if (all.length === 0) return;
    // DATA never goes from a downloader, so any number of these messages fits one datagram but for
    // thousands of HAVEs: those go in slices.
    for (let i = 0; i < all.length; i += 512) {
      this.lastSent = this.clock.now();
      this.endpoint.send(this.peer, this.theirId, all.slice(i, i + 512), this.localContext);
    }
  }

  /** A datagram of our channel ID alone (§8.14), so the peer does not take us for gone. */
  keepAlive(): void {
    if (this.theirId === undefined) return;
    this.lastSent = this.clock.now();
    this.endpoint.send(this.peer, this.theirId, [], this.localContext);
  }

  /** HANDSHAKE to its channel 0, once a second until it answers. */
  handshake(options: readonly ProtocolOption[]): void {
    const now = this.clock.now();
    if (this.theirId !== undefined || now - this.lastHandshake < 1000) return;
    this.lastHandshake = this.lastSent = now;
    this.endpoint.send(this.peer, 0, [{ type: 'handshake', sourceChannel: this.ourId, options }]);
  }

  /** The closing HANDSHAKE (§8.4), if the channel was ever open. */
  goodbye(): void {
    if (this.theirId !== undefined) this.endpoint.send(this.peer, this.theirId, [{ type: 'handshake', sourceChannel: 0, options: [] }], this.localContext);
    this.endpoint.closeChannel(this.ourId);
  }
}
