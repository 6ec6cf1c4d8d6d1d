/**
 * Serving one PPSPP peer (RFC 7574 §3, §8): its REQUESTs queue chunks, each sent as one datagram of
 * the INTEGRITY hashes it needs (§5.3: peaks first until the peer shows it has something, then the
 * uncles it cannot compute yet, top-down) and then DATA with our send time (§8.6). LEDBAT paces the
 * datagrams by the one-way delays the peer's ACKs report (§8.8, RFC 6817). A chunk not ACKed within
 * a retransmission timeout counts as lost; the peer asks for it again (there is no retransmission of
 * our own, as in libswift).
 *
 * What the peer trusts follows from its ACKs and HAVEs: every node on a verified chunk's path and
 * their siblings, so a hash lost with its datagram is sent again with the chunk's next copy.
 */
import { isIP } from 'node:net';
import { systemClock, type Clock, type Logger } from '../../../overlay/index.js';
import { chunksOfSpec, type ChunkSpec } from './ppspp-chunk-spec.js';
import type { PpsppContent } from './ppspp-content.js';
import type { PpsppContext } from './ppspp-context.js';
import type { DecodedDatagram } from './ppspp-datagram.js';
import type { ChannelHandler, PpsppEndpoint, UdpAddress } from './ppspp-endpoint.js';
import { nodeKey, type HashedNode, type TreeNode } from './ppspp-hash-tree.js';
import { LedbatFlight } from './ledbat-flight.js';
import type { IntegrityMessage, PpsppMessage } from './ppspp-messages.js';
import type { ProtocolOption } from './ppspp-options.js';

/** Bytes of a DATA datagram besides its chunk: channel, type, a 32-bit range and the timestamp. */
const DATA_OVERHEAD = 4 + 1 + 8 + 8;
/** Peers one PEX_RES datagram names at most. */
const MAX_PEX_PEERS = 32;

export interface UploadOptions {
  /** Chunks a peer may have queued with us at most; REQUESTs past it are dropped (it asks again). */
  maxQueuedChunks: number;
  /** LEDBAT's largest window, bytes. */
  maxWindowBytes: number;
  /** Silence after which the peer is taken for gone, ms (RFC 7574: 3 minutes). */
  idleTimeoutMs: number;
  /** Quiet time after which we send a keep-alive (§8.14), ms. */
  keepAliveMs: number;
  /** The other peers of the same swarm worth naming in a PEX_RES. */
  otherPeers: (asking: UploadChannel) => UdpAddress[];
  clock?: Clock;
  log: Logger;
}

export interface UploadStats {
  chunksSent: number;
  bytesSent: number;
  chunksAcked: number;
  chunksLost: number;
}

export interface ChannelCongestion {
  queueingDelayUs: number;
  cwndBytes: number;
}

export class UploadChannel implements ChannelHandler {
  readonly stats: UploadStats = { chunksSent: 0, bytesSent: 0, chunksAcked: 0, chunksLost: 0 };
  remoteContext: PpsppContext;
  /** Our channel ID, once the endpoint gave one. */
  ourId = 0;
  closed = false;
  private readonly flight: LedbatFlight;
  private readonly queue: number[] = [];
  private readonly queued = new Set<number>();
  /** Taken from the queue, being read from the file. */
  private readonly reading = new Set<number>();
  /** Nodes the peer holds checked hashes for (see the file comment). */
  private readonly trusted = new Set<string>();
  /** Until the peer ACKs or HAVEs anything, every DATA carries the peaks (§5.6.2). */
  private peaksKnown = false;
  private lastHeard: number;
  private lastSent: number;
  private pumping = false;
  /** A PEX_REQ came in the datagram being read: answered once it is read. */
  private pexPending = false;
  private readonly clock: Clock;

  constructor(
    private readonly endpoint: PpsppEndpoint,
    readonly peer: UdpAddress,
    /** The peer's channel ID, from its HANDSHAKE. */
    readonly theirId: number,
    readonly content: PpsppContent,
    /** Our options, which our datagrams are encoded by. */
    readonly localContext: PpsppContext,
    remoteContext: PpsppContext,
    private readonly options: UploadOptions,
    private readonly onClose: (channel: UploadChannel) => void,
  ) {
    this.remoteContext = remoteContext;
    this.clock = options.clock ?? systemClock;
    this.flight = new LedbatFlight({ mss: content.chunkSize + DATA_OVERHEAD, maxCwnd: Math.max(options.maxWindowBytes, 2 * (content.chunkSize + DATA_OVERHEAD)) });
    this.lastHeard = this.lastSent = this.clock.now();
  }

  get chunkSize(): number {
    return this.content.chunkSize;
  }

  /** LEDBAT's state now, read-only (for benches): its queueing delay estimate, µs, and window, bytes. */
  get congestion(): ChannelCongestion {
    const { ledbat } = this.flight;
    return { queueingDelayUs: ledbat.queueingDelayUs(), cwndBytes: Math.round(ledbat.cwnd) };
  }

  /** Answers the peer's HANDSHAKE: ours, and HAVE for each peak (what a seeder holds, §8.5). */
  greet(options: readonly ProtocolOption[]): void {
    const haves: PpsppMessage[] = this.content.tree.peaks.map((p) => ({ type: 'have', chunks: this.spec(p) }));
    this.send([{ type: 'handshake', sourceChannel: this.ourId, options }, ...haves]);
  }

  receive(datagram: DecodedDatagram): void {
    this.lastHeard = this.clock.now();
    for (const m of datagram.messages) {
      if (this.closed) return;
      this.take(m);
    }
    if (this.pexPending && !this.closed) this.answerPex();
    void this.pump();
  }

  /** When the peer last sent us anything, ms. */
  get heardAt(): number {
    return this.lastHeard;
  }

  /** PEX_RES for the other peers of this swarm we heard from lately (§8.11), one datagram. */
  private answerPex(): void {
    this.pexPending = false;
    const answers = this.options.otherPeers(this).flatMap((p) => pexResOf(p) ?? []);
    if (answers.length > 0) this.send(answers.slice(0, MAX_PEX_PEERS));
  }

  /** Acts on one message of the peer's (the first datagram's HANDSHAKE is the server's). */
  take(m: PpsppMessage): void {
    switch (m.type) {
      case 'handshake':
        if (m.sourceChannel === 0) this.close(false);
        return;
      case 'request':
        this.request(m.chunks);
        return;
      case 'cancel': {
        const { first, last } = this.chunks(m.chunks);
        for (let i = first; i <= last; i++) this.queued.delete(i);
        return;
      }
      case 'ack':
        this.ack(m.chunks, Number(m.delaySample));
        return;
      case 'have': {
        this.peaksKnown = true;
        const { first, last } = this.chunks(m.chunks);
        for (let i = first; i <= last; i++) this.trustPath(i);
        return;
      }
      case 'pexReq':
        this.pexPending = true;
        return;
      default:
        // CHOKE/UNCHOKE: a leecher's, about its own uploads; PEX_RES: we ask no one for peers.
        return;
    }
  }

  /** Losses, keep-alive and the idle timeout; called by the server's timer. */
  tick(): void {
    const now = this.clock.now();
    if (now - this.lastHeard > this.options.idleTimeoutMs) {
      this.close(true);
      return;
    }
    this.stats.chunksLost += this.flight.expire(now);
    if (now - this.lastSent > this.options.keepAliveMs) this.send([]);
    void this.pump();
  }

  close(sayGoodbye: boolean): void {
    if (this.closed) return;
    this.closed = true;
    if (sayGoodbye) this.send([{ type: 'handshake', sourceChannel: 0, options: [] }]);
    this.onClose(this);
  }

  private request(spec: ChunkSpec): void {
    const { first, last } = this.chunks(spec);
    for (let i = first; i <= last; i++) {
      if (this.queued.has(i) || this.reading.has(i)) continue;
      // Asked for again while in flight: the peer saw later chunks come and takes this one for lost.
      if (this.flight.lose(i, this.clock.now())) this.stats.chunksLost++;
      if (this.queued.size >= this.options.maxQueuedChunks) return;
      this.queued.add(i);
      this.queue.push(i);
    }
  }

  private ack(spec: ChunkSpec, delayUs: number): void {
    const now = this.clock.now();
    const { first, last } = this.chunks(spec);
    this.peaksKnown = true;
    for (let i = first; i <= last; i++) {
      this.trustPath(i);
      if (this.flight.acked(i, delayUs, now)) this.stats.chunksAcked++;
    }
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.closed && this.flight.room() >= this.content.chunkSize + DATA_OVERHEAD) {
        const index = this.queue.shift();
        if (index === undefined) break;
        // A CANCEL leaves the index in the queue and takes it out of `queued`.
        if (!this.queued.delete(index)) continue;
        // A REQUEST again while it is read must not queue it a second time.
        this.reading.add(index);
        const data = await this.content.read(index).finally(() => this.reading.delete(index));
        if (this.closed) break;
        const messages: PpsppMessage[] = [...this.integrityFor(index), { type: 'data', chunks: this.spec({ layer: 0, offset: index }), timestamp: BigInt(this.clock.now()) * 1000n, data }];
        const bytes = this.send(messages);
        this.flight.sent(index, bytes, this.clock.now());
        this.stats.chunksSent++;
        this.stats.bytesSent += data.length;
      }
    } finally {
      this.pumping = false;
    }
  }

  private integrityFor(index: number): IntegrityMessage[] {
    const tree = this.content.tree;
    const nodes: HashedNode[] = [...(this.peaksKnown ? [] : tree.peaks), ...tree.unclesOf(index, (n) => this.trusts(n))];
    return nodes.map((n) => ({ type: 'integrity', chunks: this.spec(n), hash: n.hash }));
  }

  private trusts(node: TreeNode): boolean {
    return this.trusted.has(nodeKey(node.layer, node.offset));
  }

  /** The peer verified chunk `index`: it holds every node of its path and their siblings. */
  private trustPath(index: number): void {
    const peak = this.content.tree.peakOf(index);
    for (let layer = 0; layer <= peak.layer; layer++) {
      this.trusted.add(nodeKey(layer, index >> layer));
      if (layer < peak.layer) this.trusted.add(nodeKey(layer, (index >> layer) ^ 1));
    }
  }

  /** The chunks a spec names, cut to the content: a range past it names nothing. */
  private chunks(spec: ChunkSpec): { first: number; last: number } {
    const { first, last } = chunksOfSpec(spec, 'chunks');
    return { first, last: Math.min(last, this.content.chunkCount - 1) };
  }

  /** A node as a chunk range: we speak 32-bit chunk ranges (§4.3, libswift's default). */
  private spec(node: TreeNode): ChunkSpec {
    const span = 2 ** node.layer;
    return { addressing: 'chunkRanges32', start: node.offset * span, end: (node.offset + 1) * span - 1 };
  }

  private send(messages: readonly PpsppMessage[]): number {
    this.lastSent = this.clock.now();
    return this.endpoint.send(this.peer, this.theirId, messages, this.localContext);
  }
}

/** PEX_RESv4 or PEX_RESv6 naming `peer` (an IPv4-mapped IPv6 address as IPv4); undefined for a name. */
export function pexResOf(peer: UdpAddress): PpsppMessage | undefined {
  const v4 = /^(?:::ffff:)?(\d+\.\d+\.\d+\.\d+)$/i.exec(peer.host);
  if (v4 && isIP(v4[1]!) === 4) return { type: 'pexResV4', address: Uint8Array.from(v4[1]!.split('.').map(Number)), port: peer.port };
  const address = isIP(peer.host) === 6 ? ipv6Bytes(peer.host) : undefined;
  return address && { type: 'pexResV6', address, port: peer.port };
}

/** The 16 bytes of an IPv6 address in hex groups (undefined for a dotted IPv4 tail, never sent here). */
function ipv6Bytes(host: string): Uint8Array | undefined {
  if (host.includes('.')) return undefined;
  const [head, tail = ''] = host.split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const left = groups(head!);
  const right = host.includes('::') ? groups(tail) : [];
  const all = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return bytes;
}
