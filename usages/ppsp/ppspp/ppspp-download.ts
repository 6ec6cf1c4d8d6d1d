/**
 * Downloading a file by its root hash from PPSPP peers at once (RFC 7574 §3): the peers named, and
 * those they name when asked (PEX_REQ, §8.11), up to `maxPeers`. To each, HANDSHAKE to its channel
 * 0 (sent again each second until it answers), then REQUESTs for a window of chunks in file order,
 * each chunk asked of one peer at a time, and only of a peer that holds it (its HAVEs; a peer the
 * user named holds everything until its HAVEs say otherwise). Each DATA is checked against the root
 * by the INTEGRITY hashes before it (§5, ChunkVerifier, one for all peers: a hash checked through one
 * peer's chunk is trusted for all), written to `OUT.part` at its offset (removed if the download
 * fails), ACKed to its sender with our one-way delay sample (§8.8, which the sender's LEDBAT runs
 * on), and told to every peer by HAVE. The chunk count comes from the peak hashes (§5.6), the exact
 * length from the last chunk. A chunk that does not come in time is asked for again, of any peer
 * that holds it; a peer that goes silent, closes or keeps sending bad chunks is dropped, and the
 * download fails only when no peer is left. The file is renamed into place only once every chunk
 * checked out.
 *
 * The peer's clock and ours may differ by anything: the delay sample is a signed 64-bit difference,
 * sent as its two's complement (the sender only uses differences between samples).
 */
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { silentLogger, systemClock, type Clock, type Logger, type Timer } from '../../../overlay/index.js';
import { chunksOfSpec, type ChunkSpec } from './ppspp-chunk-spec.js';
import { treeHashOfRoot, PPSPP_DEFAULT_CHUNK_SIZE, MAX_PPSPP_CHUNKS } from './ppspp-content.js';
import { DEFAULT_PPSPP_CONTEXT, type PpsppContext } from './ppspp-context.js';
import type { DecodedDatagram } from './ppspp-datagram.js';
import type { PpsppEndpoint, UdpAddress } from './ppspp-endpoint.js';
import { ChunkVerifier } from './ppspp-hash-tree.js';
import type { DataMessage, PpsppMessage } from './ppspp-messages.js';
import { PPSPP_VERSION, type MerkleHashFunction, type ProtocolOption } from './ppspp-options.js';
import { DownloadPeer } from './ppspp-download-peer.js';

/** Chunks written to the file with one call at most. */
const WRITE_RUN_CHUNKS = 64;
/** Quiet time before we send a keep-alive, ms. */
const KEEP_ALIVE_MS = 20_000;
/** Peers downloaded from at once by default. */
export const DEFAULT_MAX_PEERS = 8;
/** Addresses heard of (PEX) and not tried yet, kept at most. */
const MAX_CANDIDATES = 64;
/** How often each peer is asked for more peers while there is room for them, ms. */
const PEX_INTERVAL_MS = 10_000;

export interface DownloadOptions {
  endpoint: PpsppEndpoint;
  /** Peers that serve the content (at least one); more are found by asking them (PEX). */
  peers: UdpAddress[];
  /** Peers downloaded from at once at most, named ones first (default DEFAULT_MAX_PEERS; 1: the first named only, no PEX). */
  maxPeers?: number;
  /** The swarm's root hash: 20 bytes for SHA-1, 32 for SHA-256. */
  root: Uint8Array;
  /** Bytes per chunk: not on the wire for libswift, so both ends must agree (default 1024). */
  chunkSize?: number;
  /** Where the file goes; it is written to `${out}.part` first. */
  out: string;
  /** Chunks requested of one peer and not yet received at most (default 512). */
  requestWindow?: number;
  /** A requested chunk not received in this long is asked for again, ms (default 1000). */
  requestTimeoutMs?: number;
  /** Silence from a peer after which it is dropped (and the download fails if it was the last), ms (default 30 s). */
  idleTimeoutMs?: number;
  /** Chunks from one peer that fail their check before it is dropped (default 16). */
  maxCorrupt?: number;
  clock?: Clock;
  log?: Logger;
  onProgress?: (progress: DownloadProgress) => void;
}

export interface DownloadProgress {
  chunks: number;
  /** Undefined until the peaks came. */
  totalChunks: number | undefined;
  bytes: number;
}

export interface DownloadResult {
  bytes: number;
  chunks: number;
  /** Chunks that failed their check (and were fetched again). */
  corrupt: number;
  ms: number;
  /** Peers that sent verified chunks. */
  peers: number;
}

/** A download that cannot finish: no answer, a refusal, or a peer that keeps sending bad data. */
export class PpsppDownloadError extends Error {
  override name = 'PpsppDownloadError';
}

export function downloadPpspp(options: DownloadOptions): Promise<DownloadResult> {
  return new PpsppDownload(options).run();
}

class PpsppDownload {
  private readonly localContext: PpsppContext;
  private readonly verifier: ChunkVerifier;
  private readonly chunkSize: number;
  private readonly maxPeers: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly peers = new Map<string, DownloadPeer>();
  /** Addresses a peer named that we have not tried yet. */
  private readonly candidates = new Map<string, UdpAddress>();
  /** Addresses tried already (they are not tried again). */
  private readonly tried = new Set<string>();
  private file: FileHandle | undefined;
  private have: Uint8Array | undefined;
  /** Per chunk, the peer it is asked of now. */
  private readonly askedOf = new Map<number, DownloadPeer>();
  private haveCount = 0;
  private bytes = 0;
  private corrupt = new Map<DownloadPeer, number>();
  private corruptTotal = 0;
  private firstMissing = 0;
  private contentLength: number | undefined;
  private readonly writes = new Set<Promise<unknown>>();
  /** Verified consecutive chunks from `runFirst` on, not yet written. */
  private pendingRun: Buffer[] = [];
  private runFirst = 0;
  private readonly startedAt: number;
  private timer: Timer | undefined;
  private settle!: { resolve: (r: DownloadResult) => void; reject: (e: Error) => void };
  private finished = false;
  /** Peers that sent verified chunks. */
  private readonly senders = new Set<string>();

  constructor(private readonly options: DownloadOptions) {
    const hash = treeHashOfRoot(options.root);
    if (!hash) throw new PpsppDownloadError(`a root hash of ${options.root.length} bytes matches no PPSPP hash function (SHA-1: 20, SHA-256: 32)`);
    if (options.peers.length === 0) throw new PpsppDownloadError('no peer to download from');
    this.chunkSize = options.chunkSize ?? PPSPP_DEFAULT_CHUNK_SIZE;
    this.maxPeers = Math.max(1, options.maxPeers ?? DEFAULT_MAX_PEERS);
    this.verifier = new ChunkVerifier(hash, options.root, 4096, MAX_PPSPP_CHUNKS);
    this.localContext = { ...DEFAULT_PPSPP_CONTEXT, merkleHashFunction: hash.algorithm as MerkleHashFunction };
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? silentLogger;
    this.startedAt = this.clock.now();
  }

  async run(): Promise<DownloadResult> {
    const done = new Promise<DownloadResult>((resolve, reject) => (this.settle = { resolve, reject }));
    this.file = await open(`${this.options.out}.part`, 'w');
    for (const peer of this.options.peers.slice(0, this.maxPeers)) this.addPeer(peer, true);
    if (this.peers.size === 0) {
      await this.file.close();
      await rm(`${this.options.out}.part`, { force: true });
      throw new PpsppDownloadError('no PPSPP channel is free on this endpoint');
    }
    this.timer = this.clock.every(50, () => this.tick());
    this.tick();
    try {
      return await done;
    } catch (e) {
      // Nothing resumes a PPSPP download: what it wrote is of no use.
      await this.drain();
      await rm(`${this.options.out}.part`, { force: true });
      throw e;
    } finally {
      await this.drain();
    }
  }

  private async drain(): Promise<void> {
    this.timer?.cancel();
    for (const peer of this.peers.values()) this.options.endpoint.closeChannel(peer.ourId);
    await Promise.allSettled(this.writes);
    await this.file?.close().catch(() => undefined);
  }

  // ---- peers ---------------------------------------------------------------------------------

  private addPeer(address: UdpAddress, named: boolean): void {
    const key = keyOf(address);
    if (this.tried.has(key) || this.peers.size >= this.maxPeers) return;
    const peer = new DownloadPeer(address, named, this.options.endpoint, this.localContext, this.clock, (p, d) => this.receive(p, d));
    const id = this.options.endpoint.openChannel(peer);
    if (id === undefined) return;
    this.tried.add(key);
    this.candidates.delete(key);
    peer.ourId = id;
    this.peers.set(key, peer);
    if (this.have) peer.sized(this.have.length);
    peer.handshake(this.handshakeOptions());
  }

  /** A peer named in a PEX_RES: tried now if there is room, else later. */
  private heardOf(address: UdpAddress): void {
    const key = keyOf(address);
    if (this.tried.has(key) || this.candidates.has(key) || key === keyOf(this.options.endpoint.address())) return;
    if (this.peers.size < this.maxPeers) return this.addPeer(address, false);
    if (this.candidates.size < MAX_CANDIDATES) this.candidates.set(key, address);
  }

  /** Drops a peer: what was asked of it goes to the others; with none left and none to try, the download fails. */
  private dropPeer(peer: DownloadPeer, why: string, sayGoodbye = true): void {
    if (!this.peers.delete(keyOf(peer.peer))) return;
    this.log.debug(`ppspp download: dropped ${peer.address}: ${why}`);
    this.giveBack(peer, peer.takeBackAll());
    if (sayGoodbye) peer.goodbye();
    else this.options.endpoint.closeChannel(peer.ourId);
    for (const next of [...this.candidates.values()]) {
      if (this.peers.size >= this.maxPeers) break;
      this.addPeer(next, false);
    }
    if (this.peers.size === 0) this.fail(why);
  }

  private giveBack(peer: DownloadPeer, chunks: readonly number[]): void {
    for (const c of chunks) if (this.askedOf.get(c) === peer) this.askedOf.delete(c);
  }

  // ---- datagrams -----------------------------------------------------------------------------

  private receive(peer: DownloadPeer, datagram: DecodedDatagram): void {
    if (this.finished || !this.peers.has(keyOf(peer.peer))) return;
    const answers: PpsppMessage[] = [];
    for (const m of datagram.messages) {
      this.take(peer, m, answers);
      if (this.finished || !this.peers.has(keyOf(peer.peer))) return;
    }
    peer.send([...answers, ...this.requests(peer)]);
    this.finishIfComplete();
  }

  private take(peer: DownloadPeer, m: PpsppMessage, answers: PpsppMessage[]): void {
    switch (m.type) {
      case 'handshake':
        if (m.sourceChannel === 0) return this.dropPeer(peer, `${peer.address} closed the channel`, false);
        if (peer.theirId === undefined && this.maxPeers > 1) {
          // Asked at once; the tick asks again only after PEX_INTERVAL_MS.
          peer.lastPexAt = this.clock.now();
          answers.push({ type: 'pexReq' });
        }
        peer.theirId ??= m.sourceChannel;
        return;
      case 'integrity': {
        const node = this.nodeOf(m.chunks);
        if (node) this.verifier.offer({ ...node, hash: m.hash });
        if (this.have === undefined && this.verifier.chunkCount !== undefined) this.sized(this.verifier.chunkCount);
        if (this.verifier.gaveUp) this.fail(`${peer.address} sent INTEGRITY hashes that never rebuild the root hash: it does not serve this content`);
        return;
      }
      case 'data':
        return this.data(peer, m, answers);
      case 'have': {
        const { first, last } = chunksOfSpec(m.chunks, 'have.chunks');
        return peer.noteHave(first, last, this.have?.length);
      }
      case 'choke':
        peer.choked = true;
        return this.giveBack(peer, peer.takeBackAll());
      case 'unchoke':
        peer.choked = false;
        return;
      case 'pexResV4':
        return this.heardOf({ host: [...m.address].join('.'), port: m.port });
      case 'pexResV6':
        return this.heardOf({ host: ipv6Text(m.address), port: m.port });
      default:
        // ACK (we send no DATA), PEX_REQ (we name no one), the rest: nothing to do.
        return;
    }
  }

  private sized(chunkCount: number): void {
    this.have = new Uint8Array(chunkCount);
    if (chunkCount === 0) this.contentLength = 0;
    for (const peer of this.peers.values()) peer.sized(chunkCount);
  }

  private data(peer: DownloadPeer, m: DataMessage, answers: PpsppMessage[]): void {
    const { first, last } = chunksOfSpec(m.chunks, 'data.chunks');
    const count = this.verifier.chunkCount;
    if (first !== last || this.have === undefined || count === undefined || first >= count) return;
    this.giveBack(peer, [first, ...peer.arrived(first)]);
    const delay = BigInt.asUintN(64, BigInt(this.clock.now()) * 1000n - m.timestamp);
    if (this.have[first]) {
      // A second copy (we asked again meanwhile) is ACKed too: unACKed, the sender counts it lost.
      answers.push({ type: 'ack', chunks: m.chunks, delaySample: delay });
      return;
    }
    peer.noteArrival();
    const isLast = first === count - 1;
    if (m.data.length > this.chunkSize || (!isLast && m.data.length !== this.chunkSize)) {
      this.fail(`${peer.address} sent a chunk of ${m.data.length} bytes, not ${this.chunkSize}: run again with the chunk size it serves (--chunk-size)`);
      return;
    }
    const check = this.verifier.check(first, m.data);
    if (check === 'mismatch') {
      this.corruptTotal++;
      const bad = (this.corrupt.get(peer) ?? 0) + 1;
      this.corrupt.set(peer, bad);
      if (bad > (this.options.maxCorrupt ?? 16)) this.dropPeer(peer, `${peer.address} sent ${bad} chunks that do not match the root hash`);
      return;
    }
    if (check === 'missing_hashes') return;
    this.have[first] = 1;
    this.haveCount++;
    this.senders.add(keyOf(peer.peer));
    this.bytes += m.data.length;
    if (isLast) this.contentLength = first * this.chunkSize + m.data.length;
    this.stage(first, m.data);
    answers.push({ type: 'ack', chunks: m.chunks, delaySample: delay });
    // Every peer hears we hold it: each sends only the hashes we cannot compute yet (§5.3).
    for (const p of this.peers.values()) p.tell(first, first);
    this.options.onProgress?.({ chunks: this.haveCount, totalChunks: count, bytes: this.bytes });
  }

  /**
   * Keeps a verified chunk for the file: consecutive chunks are written together, up to
   * WRITE_RUN_CHUNKS at once (a write per kilobyte would cost more than the network does).
   */
  private stage(index: number, data: Uint8Array): void {
    if (this.pendingRun.length > 0 && (index !== this.runFirst + this.pendingRun.length || this.pendingRun.length >= WRITE_RUN_CHUNKS)) this.flush();
    if (this.pendingRun.length === 0) this.runFirst = index;
    this.pendingRun.push(Buffer.from(data));
  }

  private flush(): void {
    if (this.pendingRun.length === 0) return;
    const write = this.file!.writev(this.pendingRun, this.runFirst * this.chunkSize);
    this.pendingRun = [];
    this.writes.add(write);
    void write.finally(() => this.writes.delete(write)).catch((e: Error) => this.fail(`cannot write ${this.options.out}.part: ${e.message}`));
  }

  /** REQUESTs filling `peer`'s window, in file order, as ranges of consecutive chunks it holds and nobody is asked for. */
  private requests(peer: DownloadPeer): PpsppMessage[] {
    if (peer.theirId === undefined || peer.choked) return [];
    const window = this.options.requestWindow ?? 512;
    const wanted: number[] = [];
    if (this.have === undefined) {
      // The peaks come with the first DATA: until then only chunk 0 is asked for, of one peer.
      if (!this.askedOf.has(0) && peer.has(0)) wanted.push(0);
    } else {
      while (this.firstMissing < this.have.length && this.have[this.firstMissing]) this.firstMissing++;
      // The scan passes chunks asked of the other peers: a bounded stretch, as their windows are.
      const end = Math.min(this.have.length, this.firstMissing + (this.peers.size + 1) * window * 2);
      for (let i = this.firstMissing; i < end && peer.requested.size + wanted.length < window; i++) {
        if (!this.have[i] && !this.askedOf.has(i) && peer.has(i)) wanted.push(i);
      }
    }
    const now = this.clock.now();
    const messages: PpsppMessage[] = [];
    for (let i = 0; i < wanted.length; ) {
      let j = i;
      while (j + 1 < wanted.length && wanted[j + 1] === wanted[j]! + 1) j++;
      messages.push({ type: 'request', chunks: { addressing: 'chunkRanges32', start: wanted[i]!, end: wanted[j]! } });
      for (let k = i; k <= j; k++) {
        peer.asked(wanted[k]!, now);
        this.askedOf.set(wanted[k]!, peer);
      }
      i = j + 1;
    }
    return messages;
  }

  private tick(): void {
    if (this.finished) return;
    const now = this.clock.now();
    this.flush();
    for (const peer of [...this.peers.values()]) {
      const silentMs = now - peer.lastHeard;
      if (silentMs > (this.options.idleTimeoutMs ?? 30_000)) {
        this.dropPeer(peer, `no answer from ${peer.address} for ${Math.round(silentMs / 1000)} s: is a PPSPP peer serving this root hash there?`, false);
        if (this.finished) return;
        continue;
      }
      if (peer.theirId === undefined) {
        peer.handshake(this.handshakeOptions());
        continue;
      }
      this.giveBack(peer, peer.expire(now, this.options.requestTimeoutMs ?? 1000));
      const messages = this.requests(peer);
      if (this.peers.size < this.maxPeers && now - peer.lastPexAt >= PEX_INTERVAL_MS) {
        peer.lastPexAt = now;
        messages.push({ type: 'pexReq' });
      }
      peer.send(messages);
      if (now - peer.lastSent > KEEP_ALIVE_MS) peer.keepAlive();
    }
  }

  private handshakeOptions(): ProtocolOption[] {
    return [
      { kind: 'version', value: PPSPP_VERSION },
      { kind: 'minimumVersion', value: PPSPP_VERSION },
      { kind: 'swarmId', value: this.options.root },
      { kind: 'contentIntegrityProtectionMethod', value: 'merkleHashTree' },
      { kind: 'merkleHashTreeFunction', value: this.localContext.merkleHashFunction },
      { kind: 'chunkAddressingMethod', value: 'chunkRanges32' },
    ];
  }

  private finishIfComplete(): void {
    if (this.have === undefined || this.haveCount < this.have.length || this.contentLength === undefined || this.finished) return;
    this.finished = true;
    for (const peer of this.peers.values()) peer.goodbye();
    this.flush();
    const peers = this.senders.size;
    void (async () => {
      await Promise.all(this.writes);
      await this.file!.close();
      await rename(`${this.options.out}.part`, this.options.out);
      this.settle.resolve({ bytes: this.contentLength!, chunks: this.haveCount, corrupt: this.corruptTotal, ms: this.clock.now() - this.startedAt, peers });
    })().catch((e: Error) => this.settle.reject(new PpsppDownloadError(`cannot finish ${this.options.out}: ${e.message}`)));
  }

  private fail(why: string): void {
    if (this.finished) return;
    this.finished = true;
    for (const peer of this.peers.values()) peer.goodbye();
    this.log.debug(`ppspp download: ${why}`);
    this.settle.reject(new PpsppDownloadError(why));
  }

  /** A tree node from an INTEGRITY's range: an aligned power-of-two block, or nothing. */
  private nodeOf(spec: ChunkSpec): { layer: number; offset: number } | undefined {
    const { first, last } = chunksOfSpec(spec, 'integrity.chunks');
    const span = last - first + 1;
    const layer = Math.log2(span);
    if (!Number.isInteger(layer) || first % span !== 0) return undefined;
    return { layer, offset: first / span };
  }
}

function keyOf(a: UdpAddress): string {
  return `${a.host}|${a.port}`;
}

/** An IPv6 address's 16 bytes as text (uncompressed groups). */
function ipv6Text(bytes: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return groups.join(':');
}
