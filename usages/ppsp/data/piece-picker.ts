/**
 * Chunk selection for downloading from several peers at once (seed §4.4.1; RFC 7574 §9.1 leaves the
 * policy to the implementation): rarest first, no chunk asked of two peers at a time except in end
 * game, and requests that fail, time out or belong to a departed peer become requestable again.
 *
 * Streaming (in the spirit of BiToS): the caller names priority windows, most urgent first (a
 * player's critical window right after its read position, then its read-ahead window). Chunks in
 * them are picked in window order, before rarest first, and a critical chunk late at another peer
 * is asked of a second holder. A chunk whose leaf hash is not known yet is never picked
 * (`hashesKnown`), so a download can start before it has every hash.
 *
 * Pure bookkeeping: no sockets, no timers, time passed in as milliseconds. The caller sends the
 * REQUEST / CANCEL messages this class names and reports what came back.
 *
 * Memory: O(chunkCount) counters plus one bitmap (chunkCount bits) and the in-flight requests of
 * each peer; nothing grows with time or with the number of requests made.
 */
import { invalidMessage } from '../../../overlay/index.js';
import { bitmapBytes, ChunkBitmap } from '../content/chunk-bitmap.js';

/**
 * Requests in flight to one peer at most, unless `next` is told otherwise: 1 MiB at 16 KiB chunks,
 * enough to keep a loopback or LAN TLS channel busy while each side's event loop is busy too.
 */
export const DEFAULT_REQUESTS_PER_PEER = 64;
/**
 * Least number of chunks asked of a peer at once, unless fewer remain: a REQUEST for one chunk
 * each time one arrives would make the uploader read and send them one by one.
 */
export const DEFAULT_REQUEST_BATCH = 16;
/**
 * End game starts when every missing chunk is in flight and at most this many are missing: late
 * duplicates then cost little, and a slow last peer no longer holds the download up.
 */
export const DEFAULT_ENDGAME_CHUNKS = 32;
/** A critical chunk in flight this long (ms) may be asked of a second holder. */
export const DEFAULT_LATE_MS = 400;
/** Chunks in all priority windows at most: windows are scanned on every pick. */
export const MAX_PRIORITY_CHUNKS = 1024;

/** Chunks first..last (inclusive) to fetch before the rest; `critical` ones may be asked twice when late. */
export interface PriorityWindow {
  first: number;
  last: number;
  critical: boolean;
}

export interface PiecePickerOptions {
  /** Chunks already verified (a resumed download), as an availability bitmap; default none. */
  have?: Uint8Array;
  /** See DEFAULT_ENDGAME_CHUNKS (chunks). */
  endgameChunks?: number;
  /** Uniform in [0, 1), breaks ties between equally rare chunks; default Math.random. */
  rng?: () => number;
  /** Whether every leaf hash is known from the start (default true); else see `hashesKnown`. */
  hashesKnown?: boolean;
  /** See DEFAULT_LATE_MS. */
  lateMs?: number;
}

/** Bounds on what one `next` call may add: in flight to this peer, and in flight overall. */
export interface RequestLimits {
  /** Default DEFAULT_REQUESTS_PER_PEER. */
  perPeer?: number;
  /** Default unbounded. */
  total?: number;
  /**
   * Default DEFAULT_REQUEST_BATCH, at most a quarter of perPeer: with less room than this (for the
   * peer or overall), pick nothing yet unless fewer chunks are left to request.
   */
  batch?: number;
}

/** A chunk asked of a peer at `issuedAtMs`. */
export interface InFlightRequest<P> {
  peer: P;
  chunk: number;
  issuedAtMs: number;
}

interface PeerState {
  /** Never reused, so a stale `avoid` mark cannot point at a newcomer. */
  serial: number;
  bits: ChunkBitmap;
  inFlight: Set<number>;
  /** Where this peer's last run of picks ended (-1: none yet): the next pick continues there if it can. */
  cursor: number;
}

/** Availability bitmaps here and in `setAvailability` are chunk-bitmap.ts's (BitTorrent's layout). */
export { bitmapBytes };

/** Rarest-first chunk picker with end game; `P` identifies a peer (a Node-ID in hex, say). */
export class PiecePicker<P = string> {
  private readonly have: Uint8Array;
  private haveCount = 0;
  /** How many present peers hold each chunk. */
  private readonly avail: Uint32Array;
  /**
   * Requestable chunks (missing, nothing in flight) grouped by availability, so the rarest are
   * found without scanning chunks we hold or are fetching; `slot` is each one's index in its bucket.
   */
  private readonly buckets: number[][] = [[]];
  private readonly slot: Int32Array;
  private candidates = 0;
  private readonly requests = new Map<number, { peer: P; issuedAtMs: number }[]>();
  private totalInFlight = 0;
  private readonly peers = new Map<P, PeerState>();
  private nextSerial = 1;
  /** The serial of the peer that last failed each chunk: others are asked first. */
  private readonly avoid: Int32Array;
  private readonly endgameChunks: number;
  private readonly rng: () => number;
  /** 1 for a chunk whose leaf hash is known: only those are ever requestable. */
  private readonly known: Uint8Array;
  private windows: PriorityWindow[] = [];
  private readonly lateMs: number;

  /** @param chunkCount chunks in the swarm (from its metadata, RFC 7574 §5) */
  constructor(
    readonly chunkCount: number,
    options: PiecePickerOptions = {},
  ) {
    if (!Number.isInteger(chunkCount) || chunkCount < 0) throw new RangeError(`chunkCount must be a non-negative integer, got ${chunkCount}`);
    this.endgameChunks = options.endgameChunks ?? DEFAULT_ENDGAME_CHUNKS;
    this.rng = options.rng ?? Math.random;
    this.have = new Uint8Array(chunkCount);
    this.avail = new Uint32Array(chunkCount);
    this.slot = new Int32Array(chunkCount).fill(-1);
    this.avoid = new Int32Array(chunkCount);
    this.known = new Uint8Array(chunkCount).fill(options.hashesKnown === false ? 0 : 1);
    this.lateMs = options.lateMs ?? DEFAULT_LATE_MS;
    const had = options.have ? ChunkBitmap.fromBytes(chunkCount, this.checkBitmap(options.have)) : undefined;
    for (let c = 0; c < chunkCount; c++) {
      if (had?.get(c)) {
        this.have[c] = 1;
        this.haveCount++;
      } else if (this.known[c]) this.insert(c);
    }
  }

  /** Chunks still to fetch. */
  get missing(): number {
    return this.chunkCount - this.haveCount;
  }

  get complete(): boolean {
    return this.haveCount === this.chunkCount;
  }

  /** Whether we hold `chunk` (verified). */
  has(chunk: number): boolean {
    return this.have[this.index(chunk, 'chunk')] === 1;
  }

  /** How many present peers hold `chunk`. */
  availability(chunk: number): number {
    return this.avail[this.index(chunk, 'chunk')]!;
  }

  /** Requests in flight to `peer`, or to anyone. */
  inFlight(peer?: P): number {
    return peer === undefined ? this.totalInFlight : (this.peers.get(peer)?.inFlight.size ?? 0);
  }

  /** Peers known to hold something (or announced by setAvailability / addHave). */
  get peerCount(): number {
    return this.peers.size;
  }

  /** The leaf hashes of chunks first..last are verified now: those chunks may be requested. */
  hashesKnown(first: number, last: number): void {
    this.index(first, 'first');
    this.index(last, 'last');
    for (let c = first; c <= last; c++) {
      if (this.known[c]) continue;
      this.known[c] = 1;
      if (!this.have[c] && !this.requests.has(c)) this.insert(c);
    }
  }

  /**
   * Replaces the priority windows (most urgent first); they are clipped to the swarm and, together,
   * to MAX_PRIORITY_CHUNKS. An empty list is plain rarest first.
   */
  setPriority(windows: readonly PriorityWindow[]): void {
    const kept: PriorityWindow[] = [];
    let budget = MAX_PRIORITY_CHUNKS;
    for (const w of windows) {
      const first = Math.max(0, w.first);
      const last = Math.min(this.chunkCount - 1, w.last, first + budget - 1);
      if (last < first) continue;
      kept.push({ first, last, critical: w.critical });
      budget -= last - first + 1;
      if (budget === 0) break;
    }
    this.windows = kept;
  }

  /**
   * Makes way at `peer` for its most urgent window, returning the requests dropped for the caller
   * to CANCEL. The most urgent window is the first one with a chunk in flight at the peer or a
   * requestable chunk it holds. An uploader serves requests in the order they came, so requests for
   * less urgent chunks (a later window, or none) sent before that window's last request there are
   * dropped, but the oldest `onTheWire` (likely sent already); and if the peer holds more of that
   * window's requestable chunks than it has room for, its newest less urgent requests make room.
   */
  preempt(peer: P, perPeer = DEFAULT_REQUESTS_PER_PEER, onTheWire = 2): number[] {
    const state = this.peers.get(peer);
    if (!state || this.windows.length === 0) return [];
    const inFlight = [...state.inFlight].map((c) => ({ c, rank: this.rankOf(c), at: this.requests.get(c)!.find((r) => r.peer === peer)!.issuedAtMs }));
    let best = Infinity;
    for (const r of inFlight) best = Math.min(best, r.rank);
    const wantedIn = (rank: number) => {
      const w = this.windows[rank]!;
      let n = 0;
      for (let c = w.first; c <= w.last; c++) if (this.slot[c]! >= 0 && state.bits.get(c)) n++;
      return n;
    };
    let wanted = 0;
    for (let rank = 0; rank < Math.min(best, this.windows.length); rank++) {
      wanted = wantedIn(rank);
      if (wanted > 0) {
        best = rank;
        break;
      }
    }
    if (best === Infinity) return [];
    if (wanted === 0) wanted = wantedIn(best);
    let lastUrgent = -Infinity;
    for (const r of inFlight) if (r.rank === best) lastUrgent = Math.max(lastUrgent, r.at);
    const lessUrgent = inFlight.filter((r) => r.rank > best).sort((x, y) => x.at - y.at);
    const dropped = new Set(lessUrgent.slice(onTheWire).filter((r) => r.at < lastUrgent).map((r) => r.c));
    let free = perPeer - state.inFlight.size + dropped.size;
    for (let i = lessUrgent.length - 1; i >= 0 && wanted > free; i--) {
      if (dropped.has(lessUrgent[i]!.c)) continue;
      dropped.add(lessUrgent[i]!.c);
      free++;
    }
    for (const c of dropped) this.drop(c, peer, state);
    return [...dropped];
  }

  /**
   * Replaces what `peer` holds by `bitmap` (see bitmapBytes), from an availability answer (seed
   * §4.2.2). Throws ReloadError(Invalid_Message) for a bitmap of the wrong length or with spare
   * bits set.
   */
  setAvailability(peer: P, bitmap: Uint8Array): void {
    this.checkBitmap(bitmap);
    const state = this.peer(peer);
    // Only the chunks that changed move between buckets: byte by byte, bit by bit of the difference.
    const before = state.bits.toBytes();
    for (let i = 0; i < bitmap.length; i++) {
      let diff = bitmap[i]! ^ before[i]!;
      while (diff !== 0) {
        const b = 31 - Math.clz32(diff);
        diff &= ~(1 << b);
        this.adjust(i * 8 + 7 - b, bitmap[i]! & (1 << b) ? 1 : -1);
      }
    }
    state.bits = ChunkBitmap.fromBytes(this.chunkCount, bitmap);
  }

  /** Adds chunks first..last to what `peer` holds (a HAVE, RFC 7574 §8.3). */
  addHave(peer: P, first: number, last: number): void {
    this.index(first, 'have.first');
    this.index(last, 'have.last');
    if (first > last) throw invalidMessage(`have first ${first} is after last ${last}`);
    const { bits } = this.peer(peer);
    for (let c = first; c <= last; c++) if (bits.set(c)) this.adjust(c, 1);
  }

  /**
   * Chunks to request from `peer` now, already recorded as in flight at `nowMs`: the rarest chunks
   * it holds that we lack and nobody is fetching (ties broken by the rng), a chunk it failed last
   * only if no other peer holds it or it has nothing else to fetch; then, in end game only, chunks
   * already asked of other peers.
   *
   * Among equally rare chunks a peer gets runs of consecutive ones, continuing its previous run
   * where it can: the uploader then reads a run from disk at once and the downloader writes it at
   * once, instead of one system call per chunk. Runs start at random points, so peers still fetch
   * different parts of the file.
   */
  next(peer: P, nowMs: number, limits: RequestLimits = {}): number[] {
    const state = this.peers.get(peer);
    if (!state) return [];
    const perPeer = limits.perPeer ?? DEFAULT_REQUESTS_PER_PEER;
    let room = Math.min(perPeer - state.inFlight.size, (limits.total ?? Infinity) - this.totalInFlight);
    // A batch of at most a quarter of the window, so requests stay pipelined while a batch gathers.
    // The overall bound counts too: with many peers, room freed one chunk at a time would
    // otherwise go out as one-chunk requests.
    const batch = Math.min(limits.batch ?? DEFAULT_REQUEST_BATCH, Math.ceil(perPeer / 4));
    // Priority chunks go out at once: a player waits on them.
    if (room <= 0 || (room < batch && room < this.candidates && !this.hasPriorityFor(state))) return [];
    const picked: number[] = [];
    const taken = new Set<number>();
    const deferred: number[] = [];
    /** Picks chunks from `from` on while each is requestable, in bucket `a`, held by the peer and not failed by it. */
    const run = (from: number, a: number) => {
      for (let c = from; picked.length < room && c < this.chunkCount; c++) {
        if (this.slot[c]! < 0 || this.avail[c] !== a || !state.bits.get(c) || taken.has(c) || (this.avoid[c] === state.serial && a > 1)) return;
        picked.push(c);
        taken.add(c);
      }
    };
    for (const w of this.windows) {
      if (picked.length >= room) break;
      const inWindow: number[] = [];
      for (let c = w.first; c <= w.last; c++) {
        if (this.slot[c]! < 0 || !state.bits.get(c) || taken.has(c)) continue;
        if (this.avoid[c] === state.serial && this.avail[c]! > 1) deferred.push(c);
        else inWindow.push(c);
      }
      // A critical window goes in play order; a read-ahead window rarest first (in the spirit of
      // BiToS), so the chunks few peers hold spread while there is time.
      if (!w.critical) inWindow.sort((x, y) => this.avail[x]! - this.avail[y]! || x - y);
      for (const c of inWindow.slice(0, room - picked.length)) {
        picked.push(c);
        taken.add(c);
      }
    }
    // A late critical chunk is worth a duplicate before any new chunk: a player is waiting on it.
    const late = picked.length < room ? this.lateCritical(peer, state, nowMs, room - picked.length) : [];
    room -= late.length;
    for (let a = 1; a < this.buckets.length && picked.length < room; a++) {
      const bucket = this.buckets[a]!;
      if (bucket.length === 0) continue;
      if (state.cursor >= 0) run(state.cursor, a);
      const start = Math.floor(this.rng() * bucket.length);
      for (let k = 0; k < bucket.length && picked.length < room; k++) {
        const c = bucket[(start + k) % bucket.length]!;
        if (taken.has(c) || !state.bits.get(c)) continue;
        if (this.avoid[c] === state.serial && a > 1) deferred.push(c);
        else run(c, a);
      }
    }
    // The peer that failed a chunk gets it back only when it has nothing else to fetch: never
    // retrying it could stall a download whose other holder keeps us choked.
    if (picked.length === 0) picked.push(...deferred.slice(0, room));
    for (const c of picked) {
      this.remove(c);
      this.request(c, peer, state, nowMs);
    }
    if (picked.length > 0) {
      // After the end of the last run, past chunks picked just now (a run may stop at one of them).
      let cursor = picked[picked.length - 1]! + 1;
      while (taken.has(cursor)) cursor++;
      state.cursor = cursor;
    }
    if (picked.length < room && this.inEndgame()) picked.push(...this.duplicates(peer, state, nowMs, room - picked.length));
    return [...late, ...picked];
  }

  /** End game (see DEFAULT_ENDGAME_CHUNKS): every missing chunk in flight and few missing. */
  inEndgame(): boolean {
    return this.candidates === 0 && this.missing > 0 && this.missing <= this.endgameChunks;
  }

  /** Peers other than `from` with `chunk` in flight: those to send CANCEL once it has arrived. */
  cancelsFor(chunk: number, from?: P): P[] {
    return (this.requests.get(this.index(chunk, 'chunk')) ?? []).map((r) => r.peer).filter((p) => p !== from);
  }

  /**
   * Records a verified `chunk` (from `from`, if known) and returns the other peers it is still in
   * flight to, to CANCEL (cancelsFor). A chunk we already hold changes nothing.
   */
  received(chunk: number, from?: P): P[] {
    if (this.has(chunk)) return [];
    const cancels = this.cancelsFor(chunk, from);
    for (const r of this.requests.get(chunk) ?? []) this.peers.get(r.peer)?.inFlight.delete(chunk);
    this.totalInFlight -= this.requests.get(chunk)?.length ?? 0;
    this.requests.delete(chunk);
    if (this.slot[chunk]! >= 0) this.remove(chunk);
    this.have[chunk] = 1;
    this.haveCount++;
    return cancels;
  }

  /**
   * `peer` did not deliver `chunk` (refused, bad hash): the chunk is requestable again, from
   * another holder first.
   */
  failed(peer: P, chunk: number): void {
    const state = this.peers.get(peer);
    if (state && this.drop(chunk, peer, state)) this.avoid[chunk] = state.serial;
  }

  /** Removes and returns the requests issued at or before `nowMs - timeoutMs`, as `failed` does. */
  expire(nowMs: number, timeoutMs: number): InFlightRequest<P>[] {
    const late: InFlightRequest<P>[] = [];
    for (const [chunk, list] of this.requests) {
      for (const r of list) if (nowMs - r.issuedAtMs >= timeoutMs) late.push({ peer: r.peer, chunk, issuedAtMs: r.issuedAtMs });
    }
    for (const r of late) this.failed(r.peer, r.chunk);
    return late;
  }

  /**
   * Forgets the requests in flight to `peer` (it choked us, RFC 7574 §8.12: they will not be
   * answered) and returns their chunks; what it holds is kept.
   */
  releaseRequests(peer: P): number[] {
    const state = this.peers.get(peer);
    if (!state) return [];
    const chunks = [...state.inFlight];
    for (const c of chunks) this.drop(c, peer, state);
    return chunks;
  }

  /** Forgets `peer`: its requests become requestable again (returned) and its chunks no longer count. */
  peerGone(peer: P): number[] {
    const state = this.peers.get(peer);
    if (!state) return [];
    const released = this.releaseRequests(peer);
    this.setAvailability(peer, new Uint8Array(bitmapBytes(this.chunkCount)));
    this.peers.delete(peer);
    return released;
  }

  // ---- internals -------------------------------------------------------------------------------

  private index(value: number, field: string): number {
    if (!Number.isInteger(value) || value < 0 || value >= this.chunkCount) {
      throw invalidMessage(`${field} ${value} is outside the swarm's ${this.chunkCount} chunks`, 'out_of_range');
    }
    return value;
  }

  private checkBitmap(bitmap: Uint8Array): Uint8Array {
    const why = ChunkBitmap.problemWith(this.chunkCount, bitmap);
    if (why !== undefined) throw invalidMessage(`availability: ${why}`);
    return bitmap;
  }

  private peer(peer: P): PeerState {
    let state = this.peers.get(peer);
    if (!state) {
      state = { serial: this.nextSerial++, bits: new ChunkBitmap(this.chunkCount), inFlight: new Set(), cursor: -1 };
      this.peers.set(peer, state);
    }
    return state;
  }

  /** Changes a chunk's availability, moving it to its new bucket if it is requestable. */
  private adjust(c: number, delta: 1 | -1): void {
    const candidate = this.slot[c]! >= 0;
    if (candidate) this.remove(c);
    this.avail[c]! += delta;
    if (candidate) this.insert(c);
  }

  private insert(c: number): void {
    const a = this.avail[c]!;
    while (this.buckets.length <= a) this.buckets.push([]);
    const bucket = this.buckets[a]!;
    this.slot[c] = bucket.length;
    bucket.push(c);
    this.candidates++;
  }

  /** Swap-remove from its bucket: O(1), and it also stirs the order that ties are scanned in. */
  private remove(c: number): void {
    const bucket = this.buckets[this.avail[c]!]!;
    const at = this.slot[c]!;
    const last = bucket.pop()!;
    if (last !== c) {
      bucket[at] = last;
      this.slot[last] = at;
    }
    this.slot[c] = -1;
    this.candidates--;
  }

  private request(c: number, peer: P, state: PeerState, nowMs: number): void {
    let list = this.requests.get(c);
    if (!list) this.requests.set(c, (list = []));
    list.push({ peer, issuedAtMs: nowMs });
    state.inFlight.add(c);
    this.totalInFlight++;
  }

  /** Drops `peer`'s request for `c`; the chunk is requestable again once no request is left. */
  private drop(c: number, peer: P, state: PeerState): boolean {
    if (!state.inFlight.delete(c)) return false;
    const list = this.requests.get(c)!.filter((r) => r.peer !== peer);
    this.totalInFlight--;
    if (list.length > 0) this.requests.set(c, list);
    else {
      this.requests.delete(c);
      this.insert(c);
    }
    return true;
  }

  /** Whether a window has a requestable chunk that this peer holds. */
  private hasPriorityFor(state: PeerState): boolean {
    for (const w of this.windows) for (let c = w.first; c <= w.last; c++) if (this.slot[c]! >= 0 && state.bits.get(c)) return true;
    return false;
  }

  /** The index of the first window holding `c` (0: most urgent), or Infinity outside every window. */
  private rankOf(c: number): number {
    const rank = this.windows.findIndex((w) => c >= w.first && c <= w.last);
    return rank < 0 ? Infinity : rank;
  }

  /** Critical chunks `peer` holds that are in flight to one other peer only, for at least lateMs. */
  private lateCritical(peer: P, state: PeerState, nowMs: number, room: number): number[] {
    const picked: number[] = [];
    for (const w of this.windows) {
      if (!w.critical) continue;
      for (let c = w.first; c <= w.last && picked.length < room; c++) {
        const list = this.requests.get(c);
        if (!list || list.length !== 1 || state.inFlight.has(c) || !state.bits.get(c) || nowMs - list[0]!.issuedAtMs < this.lateMs) continue;
        this.request(c, peer, state, nowMs);
        picked.push(c);
      }
    }
    return picked;
  }

  /** End-game picks: chunks `peer` holds that are in flight elsewhere, least duplicated first. */
  private duplicates(peer: P, state: PeerState, nowMs: number, room: number): number[] {
    const options: { c: number; n: number; tie: number }[] = [];
    for (const [c, list] of this.requests) {
      if (state.bits.get(c) && !state.inFlight.has(c)) options.push({ c, n: list.length, tie: this.rng() });
    }
    options.sort((x, y) => x.n - y.n || x.tie - y.tie);
    const picked = options.slice(0, room).map((o) => o.c);
    for (const c of picked) this.request(c, peer, state, nowMs);
    return picked;
  }
}
