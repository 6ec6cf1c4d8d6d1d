/**
 * Downloading a file from one PPSPP peer by its root hash (RFC 7574 §3.1): HANDSHAKE to the peer's
 * channel 0 (sent again each second until it answers), then REQUESTs for a window of chunks in
 * order, each DATA checked against the root by the INTEGRITY hashes before it (§5, ChunkVerifier),
 * written to `OUT.part` at its offset (removed if the download fails) and answered with ACK (and our one-way delay sample, §8.8,
 * which the sender's LEDBAT runs on) and HAVE. The chunk count comes from the peak hashes (§5.6),
 * the exact length from the last chunk. A chunk that does not come within the request timeout is
 * asked for again; the file is renamed into place only once every chunk checked out.
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
import type { ChannelHandler, PpsppEndpoint, UdpAddress } from './ppspp-endpoint.js';
import { ChunkVerifier } from './ppspp-hash-tree.js';
import type { DataMessage, PpsppMessage } from './ppspp-messages.js';
import { PPSPP_VERSION, type MerkleHashFunction } from './ppspp-options.js';

/** Chunks a later-requested chunk may overtake before the earlier one counts as lost. */
const REORDER_CHUNKS = 8;
/** Chunks written to the file with one call at most. */
const WRITE_RUN_CHUNKS = 64;
/** Quiet time before we send a keep-alive, ms. */
const KEEP_ALIVE_MS = 20_000;

export interface DownloadOptions {
  endpoint: PpsppEndpoint;
  peer: UdpAddress;
  /** The swarm's root hash: 20 bytes for SHA-1, 32 for SHA-256. */
  root: Uint8Array;
  /** Bytes per chunk: not on the wire for libswift, so both ends must agree (default 1024). */
  chunkSize?: number;
  /** Where the file goes; it is written to `${out}.part` first. */
  out: string;
  /** Chunks requested and not yet received at most (default 512). */
  requestWindow?: number;
  /** A requested chunk not received in this long is asked for again, ms (default 1000). */
  requestTimeoutMs?: number;
  /** Silence from the peer after which the download fails, ms (default 30 s). */
  idleTimeoutMs?: number;
  /** Chunks that fail their check before the peer is given up on (default 16). */
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
}

/** A download that cannot finish: no answer, a refusal, or a peer that keeps sending bad data. */
export class PpsppDownloadError extends Error {
  override name = 'PpsppDownloadError';
}

export function downloadPpspp(options: DownloadOptions): Promise<DownloadResult> {
  return new PpsppDownload(options).run();
}

class PpsppDownload implements ChannelHandler {
  readonly peer: UdpAddress;
  remoteContext: PpsppContext = DEFAULT_PPSPP_CONTEXT;
  private readonly localContext: PpsppContext;
  private readonly verifier: ChunkVerifier;
  private readonly chunkSize: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  private ourId = 0;
  private theirId: number | undefined;
  private file: FileHandle | undefined;
  private have: Uint8Array | undefined;
  private haveCount = 0;
  private bytes = 0;
  private corrupt = 0;
  private firstMissing = 0;
  private contentLength: number | undefined;
  /** Requested chunk → when, and the request's place in our order (insertion order is that order). */
  private readonly requested = new Map<number, { at: number; seq: number }>();
  private requestSeq = 0;
  private readonly writes = new Set<Promise<unknown>>();
  /** Verified consecutive chunks from `runFirst` on, not yet written. */
  private pendingRun: Buffer[] = [];
  private runFirst = 0;
  private lastArrival: number | undefined;
  private arrivalMs = 0;
  private lastHeard: number;
  private lastHandshake = -Infinity;
  private lastSent = 0;
  private readonly startedAt: number;
  private timer: Timer | undefined;
  private settle!: { resolve: (r: DownloadResult) => void; reject: (e: Error) => void };
  private finished = false;

  constructor(private readonly options: DownloadOptions) {
    const hash = treeHashOfRoot(options.root);
    if (!hash) throw new PpsppDownloadError(`a root hash of ${options.root.length} bytes matches no PPSPP hash function (SHA-1: 20, SHA-256: 32)`);
    this.peer = options.peer;
    this.chunkSize = options.chunkSize ?? PPSPP_DEFAULT_CHUNK_SIZE;
    this.verifier = new ChunkVerifier(hash, options.root, 4096, MAX_PPSPP_CHUNKS);
    this.localContext = { ...DEFAULT_PPSPP_CONTEXT, merkleHashFunction: hash.algorithm as MerkleHashFunction };
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? silentLogger;
    this.lastHeard = this.startedAt = this.clock.now();
  }

  async run(): Promise<DownloadResult> {
    const done = new Promise<DownloadResult>((resolve, reject) => (this.settle = { resolve, reject }));
    this.file = await open(`${this.options.out}.part`, 'w');
    const id = this.options.endpoint.openChannel(this);
    if (id === undefined) {
      await this.file.close();
      throw new PpsppDownloadError('no PPSPP channel is free on this endpoint');
    }
    this.ourId = id;
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
    this.options.endpoint.closeChannel(this.ourId);
    await Promise.allSettled(this.writes);
    await this.file?.close().catch(() => undefined);
  }

  receive(datagram: DecodedDatagram): void {
    if (this.finished) return;
    this.lastHeard = this.clock.now();
    const answers: PpsppMessage[] = [];
    for (const m of datagram.messages) this.take(m, answers);
    if (this.finished) return;
    this.send([...answers, ...this.requests()]);
    this.finishIfComplete();
  }

  private take(m: PpsppMessage, answers: PpsppMessage[]): void {
    switch (m.type) {
      case 'handshake':
        if (m.sourceChannel === 0) {
          if (this.haveCount < (this.verifier.chunkCount ?? Infinity)) this.fail(`${this.address()} closed the channel`);
          return;
        }
        this.theirId ??= m.sourceChannel;
        return;
      case 'integrity': {
        const node = this.nodeOf(m.chunks);
        if (node) this.verifier.offer({ ...node, hash: m.hash });
        if (this.have === undefined && this.verifier.chunkCount !== undefined) this.sized(this.verifier.chunkCount);
        if (this.verifier.gaveUp) this.fail(`${this.address()} sent INTEGRITY hashes that never rebuild the root hash: it does not serve this content`);
        return;
      }
      case 'data':
        this.data(m, answers);
        return;
      default:
        // HAVE: a seeder has everything; we ask only one peer. CHOKE, PEX: nothing to do with one peer.
        return;
    }
  }

  private sized(chunkCount: number): void {
    this.have = new Uint8Array(chunkCount);
    if (chunkCount === 0) this.contentLength = 0;
  }

  private data(m: DataMessage, answers: PpsppMessage[]): void {
    const { first, last } = chunksOfSpec(m.chunks, 'data.chunks');
    const count = this.verifier.chunkCount;
    if (first !== last || this.have === undefined || count === undefined || first >= count) return;
    this.arrived(first);
    const delay = BigInt.asUintN(64, BigInt(this.clock.now()) * 1000n - m.timestamp);
    if (this.have[first]) {
      // A second copy (we asked again meanwhile) is ACKed too: unACKed, the sender counts it lost.
      answers.push({ type: 'ack', chunks: m.chunks, delaySample: delay });
      return;
    }
    this.noteArrival();
    const isLast = first === count - 1;
    if (m.data.length > this.chunkSize || (!isLast && m.data.length !== this.chunkSize)) {
      this.fail(`${this.address()} sent a chunk of ${m.data.length} bytes, not ${this.chunkSize}: run again with the chunk size it serves (--chunk-size)`);
      return;
    }
    const check = this.verifier.check(first, m.data);
    if (check === 'mismatch') {
      if (++this.corrupt > (this.options.maxCorrupt ?? 16)) this.fail(`${this.address()} sent ${this.corrupt} chunks that do not match the root hash`);
      return;
    }
    if (check === 'missing_hashes') return;
    this.have[first] = 1;
    this.haveCount++;
    this.bytes += m.data.length;
    if (isLast) this.contentLength = first * this.chunkSize + m.data.length;
    this.stage(first, m.data);
    answers.push({ type: 'ack', chunks: m.chunks, delaySample: delay }, { type: 'have', chunks: m.chunks });
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

  /**
   * Chunk `index` came. A sender serves requests in order, so chunks asked for well before it that
   * have not come were lost: they are asked for again now rather than after the timeout.
   */
  private arrived(index: number): void {
    const request = this.requested.get(index);
    this.requested.delete(index);
    if (!request) return;
    for (const [earlier, { seq }] of this.requested) {
      if (seq >= request.seq - REORDER_CHUNKS) break;
      this.requested.delete(earlier);
    }
  }

  /** The mean time between new chunks, ms: how long the chunks still asked for may take. */
  private noteArrival(): void {
    const now = this.clock.now();
    if (this.lastArrival !== undefined) this.arrivalMs = 0.9 * this.arrivalMs + 0.1 * (now - this.lastArrival);
    this.lastArrival = now;
  }

  /** REQUESTs filling the window, in file order, as ranges of consecutive chunks. */
  private requests(): PpsppMessage[] {
    if (this.theirId === undefined) return [];
    const window = this.options.requestWindow ?? 512;
    const wanted: number[] = [];
    if (this.have === undefined) {
      // The peaks come with the first DATA: until then only chunk 0 is asked for.
      if (!this.requested.has(0)) wanted.push(0);
    } else {
      while (this.firstMissing < this.have.length && this.have[this.firstMissing]) this.firstMissing++;
      for (let i = this.firstMissing; i < this.have.length && this.requested.size + wanted.length < window; i++) {
        if (!this.have[i] && !this.requested.has(i)) wanted.push(i);
      }
    }
    const now = this.clock.now();
    const messages: PpsppMessage[] = [];
    for (let i = 0; i < wanted.length; ) {
      let j = i;
      while (j + 1 < wanted.length && wanted[j + 1] === wanted[j]! + 1) j++;
      messages.push({ type: 'request', chunks: { addressing: 'chunkRanges32', start: wanted[i]!, end: wanted[j]! } });
      for (let k = i; k <= j; k++) this.requested.set(wanted[k]!, { at: now, seq: this.requestSeq++ });
      i = j + 1;
    }
    return messages;
  }

  private tick(): void {
    if (this.finished) return;
    const now = this.clock.now();
    if (now - this.lastHeard > (this.options.idleTimeoutMs ?? 30_000)) {
      this.fail(`no answer from ${this.address()} for ${Math.round((now - this.lastHeard) / 1000)} s: is a PPSPP peer serving this root hash there?`);
      return;
    }
    if (this.theirId === undefined) {
      if (now - this.lastHandshake >= 1000) this.handshake();
      return;
    }
    this.flush();
    // A request is late once it waited longer than the whole window takes at the current rate
    // (twice over) and at least the configured timeout: a slow link is not a lossy one.
    const timeout = Math.max(this.options.requestTimeoutMs ?? 1000, 2 * this.requested.size * this.arrivalMs);
    for (const [index, { at }] of this.requested) if (now - at > timeout) this.requested.delete(index);
    const requests = this.requests();
    if (requests.length > 0) this.send(requests);
    else if (now - this.lastSent > KEEP_ALIVE_MS) this.keepAlive();
  }

  /** A datagram of our channel ID alone (§8.14), so the peer does not take us for gone. */
  private keepAlive(): void {
    this.lastSent = this.clock.now();
    this.options.endpoint.send(this.peer, this.theirId!, [], this.localContext);
  }

  private handshake(): void {
    this.lastHandshake = this.clock.now();
    this.lastSent = this.lastHandshake;
    this.options.endpoint.send(this.peer, 0, [
      {
        type: 'handshake',
        sourceChannel: this.ourId,
        options: [
          { kind: 'version', value: PPSPP_VERSION },
          { kind: 'minimumVersion', value: PPSPP_VERSION },
          { kind: 'swarmId', value: this.options.root },
          { kind: 'contentIntegrityProtectionMethod', value: 'merkleHashTree' },
          { kind: 'merkleHashTreeFunction', value: this.localContext.merkleHashFunction },
          { kind: 'chunkAddressingMethod', value: 'chunkRanges32' },
        ],
      },
    ]);
  }

  private finishIfComplete(): void {
    if (this.have === undefined || this.haveCount < this.have.length || this.contentLength === undefined || this.finished) return;
    this.finished = true;
    this.send([{ type: 'handshake', sourceChannel: 0, options: [] }]);
    this.flush();
    void (async () => {
      await Promise.all(this.writes);
      await this.file!.close();
      await rename(`${this.options.out}.part`, this.options.out);
      this.settle.resolve({ bytes: this.contentLength!, chunks: this.haveCount, corrupt: this.corrupt, ms: this.clock.now() - this.startedAt });
    })().catch((e: Error) => this.settle.reject(new PpsppDownloadError(`cannot finish ${this.options.out}: ${e.message}`)));
  }

  private fail(why: string): void {
    if (this.finished) return;
    this.finished = true;
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

  private send(messages: readonly PpsppMessage[]): void {
    if (this.theirId === undefined || messages.length === 0) return;
    this.lastSent = this.clock.now();
    this.options.endpoint.send(this.peer, this.theirId, messages, this.localContext);
  }

  private address(): string {
    return `${this.peer.host}:${this.peer.port}`;
  }
}
