/**
 * Serves files to PPSPP peers on one endpoint (RFC 7574 §3.1): a HANDSHAKE to channel 0 naming the
 * root hash of a file we serve opens a channel (ppspp-upload.ts); one naming anything else, or
 * asking for a hash function or integrity method the file is not hashed by, gets no answer, as
 * libswift does for a swarm it does not have.
 *
 * Our HANDSHAKE carries only the options libswift takes: it drops a whole HANDSHAKE with an option
 * it does not parse, such as the chunk size (§7.11), which is therefore sent only to a peer that
 * sent it first.
 */
import { silentLogger, systemClock, type Clock, type Logger, type Timer } from '../../../overlay/index.js';
import type { PpsppContent } from './ppspp-content.js';
import { DEFAULT_PPSPP_CONTEXT, type PpsppContext } from './ppspp-context.js';
import type { DecodedDatagram } from './ppspp-datagram.js';
import type { PpsppEndpoint, UdpAddress } from './ppspp-endpoint.js';
import { findOption, PPSPP_VERSION, type MerkleHashFunction, type ProtocolOption } from './ppspp-options.js';
import { UploadChannel, type ChannelCongestion, type UploadStats } from './ppspp-upload.js';

/** How recently a peer must have spoken to us to be named in a PEX_RES, ms. */
const PEX_RECENT_MS = 60_000;
/** Closed channels remembered for PEX. */
const MAX_DEPARTED = 256;

export interface ServerOptions {
  /** Chunks one peer may have queued (default 4096). */
  maxQueuedChunks?: number;
  /** LEDBAT's largest window per peer, bytes (default 4 MiB). */
  maxWindowBytes?: number;
  /** Silence after which a peer is taken for gone, ms (default 3 minutes). */
  idleTimeoutMs?: number;
  /** Quiet time before a keep-alive, ms (default 20 s). */
  keepAliveMs?: number;
  /** How often losses and timeouts are looked for, ms (default 50). */
  tickMs?: number;
  clock?: Clock;
  log?: Logger;
}

export interface ServerStats extends UploadStats {
  channelsOpened: number;
  /** HANDSHAKEs for a swarm we do not serve, or with options we cannot meet. */
  handshakesRefused: number;
  /** Each open channel's LEDBAT state now (read-only, for benches). */
  congestion: ChannelCongestion[];
}

export class PpsppServer {
  private readonly contents = new Map<string, PpsppContent>();
  private readonly channels = new Map<string, UploadChannel>();
  private readonly closedStats: UploadStats = { chunksSent: 0, bytesSent: 0, chunksAcked: 0, chunksLost: 0 };
  private channelsOpened = 0;
  /** Peers whose channel closed, when we last heard from them (newest last, bounded). */
  private readonly departed: { content: PpsppContent; peer: UdpAddress; at: number }[] = [];
  private handshakesRefused = 0;
  private readonly timer: Timer;
  private readonly clock: Clock;
  private readonly log: Logger;

  constructor(
    private readonly endpoint: PpsppEndpoint,
    private readonly options: ServerOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? silentLogger;
    endpoint.onOpen = (datagram, from) => this.open(datagram, from);
    this.timer = this.clock.every(options.tickMs ?? 50, () => {
      for (const channel of [...this.channels.values()]) channel.tick();
    });
  }

  /** Serves `content` under its root hash. */
  add(content: PpsppContent): void {
    this.contents.set(content.root.toString('hex'), content);
  }

  get stats(): ServerStats {
    const sum = { ...this.closedStats };
    for (const c of this.channels.values()) addStats(sum, c.stats);
    const congestion = [...this.channels.values()].map((c) => c.congestion);
    return { ...sum, channelsOpened: this.channelsOpened, handshakesRefused: this.handshakesRefused, congestion };
  }

  /** Stops serving the content of `rootHash` (hex): its peers are told goodbye; false if not served. */
  remove(rootHash: string): boolean {
    const content = this.contents.get(rootHash);
    if (!content) return false;
    this.contents.delete(rootHash);
    for (const channel of [...this.channels.values()]) if (channel.content === content) channel.close(true);
    return true;
  }

  /** Says goodbye to every peer and stops the timer; the endpoint and the contents stay open. */
  close(): void {
    this.timer.cancel();
    for (const channel of [...this.channels.values()]) channel.close(true);
    this.endpoint.onOpen = undefined;
  }

  private open(datagram: DecodedDatagram, from: UdpAddress): void {
    const [first, ...rest] = datagram.messages;
    if (first?.type !== 'handshake' || first.sourceChannel === 0) return this.refuse(from, 'a first datagram without an opening HANDSHAKE');
    const key = `${from.host}|${from.port}|${first.sourceChannel}`;
    const known = this.channels.get(key);
    if (known) {
      // Our answer was lost: the peer asks again on the same channel.
      known.greet(this.ourOptions(known, first.options));
      for (const m of rest) known.take(m);
      return;
    }
    const swarmId = findOption(first.options, 'swarmId');
    const content = swarmId && this.contents.get(Buffer.from(swarmId).toString('hex'));
    if (!content) return this.refuse(from, 'a swarm we do not serve');
    const hash = findOption(first.options, 'merkleHashTreeFunction') ?? 'sha1';
    const integrity = findOption(first.options, 'contentIntegrityProtectionMethod') ?? 'merkleHashTree';
    if (hash !== content.tree.hash.algorithm || integrity !== 'merkleHashTree') return this.refuse(from, `${integrity} by ${hash}, not a Merkle tree by ${content.tree.hash.algorithm}`);
    const chunkSize = findOption(first.options, 'chunkSize');
    if (chunkSize !== undefined && chunkSize !== content.chunkSize) return this.refuse(from, `${chunkSize}-byte chunks, not ${content.chunkSize}`);
    const localContext: PpsppContext = { ...DEFAULT_PPSPP_CONTEXT, merkleHashFunction: hash as MerkleHashFunction };
    const channel = new UploadChannel(
      this.endpoint,
      from,
      first.sourceChannel,
      content,
      localContext,
      datagram.context,
      {
        maxQueuedChunks: this.options.maxQueuedChunks ?? 4096,
        maxWindowBytes: this.options.maxWindowBytes ?? 4 * 1024 * 1024,
        idleTimeoutMs: this.options.idleTimeoutMs ?? 180_000,
        keepAliveMs: this.options.keepAliveMs ?? 20_000,
        otherPeers: (asking) => this.recentPeers(content, asking),
        clock: this.clock,
        log: this.log,
      },
      (closed) => this.forget(key, closed),
    );
    const id = this.endpoint.openChannel(channel);
    if (id === undefined) return this.refuse(from, 'a channel while all are taken');
    channel.ourId = id;
    this.channels.set(key, channel);
    this.channelsOpened++;
    channel.greet(this.ourOptions(channel, first.options));
    channel.receive({ ...datagram, messages: rest });
  }

  private ourOptions(channel: UploadChannel, theirs: readonly ProtocolOption[]): ProtocolOption[] {
    const chunkSize = findOption(theirs, 'chunkSize');
    return [
      { kind: 'version', value: PPSPP_VERSION },
      { kind: 'minimumVersion', value: PPSPP_VERSION },
      { kind: 'contentIntegrityProtectionMethod', value: 'merkleHashTree' },
      { kind: 'merkleHashTreeFunction', value: channel.localContext.merkleHashFunction },
      { kind: 'chunkAddressingMethod', value: 'chunkRanges32' },
      ...(chunkSize === undefined ? [] : [{ kind: 'chunkSize' as const, value: channel.chunkSize }]),
    ];
  }

  /** The peers of `content` other than `asking` heard from in the last minute (§8.11: "the last 60 seconds"). */
  private recentPeers(content: PpsppContent, asking: UploadChannel): UdpAddress[] {
    const since = this.clock.now() - PEX_RECENT_MS;
    const peers = new Map<string, UdpAddress>();
    const heard = [...this.departed, ...[...this.channels.values()].map((c) => ({ content: c.content, peer: c.peer, at: c.heardAt }))];
    for (const h of heard) if (h.content === content && h.at >= since) peers.set(`${h.peer.host}|${h.peer.port}`, h.peer);
    peers.delete(`${asking.peer.host}|${asking.peer.port}`);
    return [...peers.values()];
  }

  private forget(key: string, channel: UploadChannel): void {
    this.channels.delete(key);
    this.endpoint.closeChannel(channel.ourId);
    // A peer that finished still has the content for a while: PEX names it for a minute more.
    this.departed.push({ content: channel.content, peer: channel.peer, at: channel.heardAt });
    if (this.departed.length > MAX_DEPARTED) this.departed.shift();
    addStats(this.closedStats, channel.stats);
  }

  private refuse(from: UdpAddress, what: string): void {
    this.handshakesRefused++;
    this.log.debug(`ppspp: no answer to ${from.host}:${from.port}, which asked for ${what}`);
  }
}

function addStats(into: UploadStats, from: UploadStats): void {
  into.chunksSent += from.chunksSent;
  into.bytesSent += from.bytesSent;
  into.chunksAcked += from.chunksAcked;
  into.chunksLost += from.chunksLost;
}
