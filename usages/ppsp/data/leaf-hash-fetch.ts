/**
 * Fetching a download's leaf hashes range by range (leaf-hashes.ts), so chunks can be requested as
 * soon as their own range is checked: ranges a player needs (`urgent`) first, in small subtrees,
 * then the rest from the lowest chunk up, in large ones. Each range is asked of a peer that holds
 * every chunk (so every hash; a partial peer may not, and is asked only when no complete one is
 * connected), at most MAX_HASH_REQUESTS_IN_FLIGHT at a time, spread over those peers. A peer whose
 * range does not lead to the root is a liar (`lied`), one that does not answer within the request
 * timeout is dropped; either way its ranges are asked again of another.
 */
import { ErrorCode, invalidMessage, ReloadError, type Clock } from '../../../overlay/index.js';
import { DEFAULT_HASHES_PER_FRAME, PartialLeafHashes, type LeafHashes } from '../content/leaf-hashes.js';
import { HASH_BYTES } from '../content/merkle.js';
import type { SwarmMetadata } from '../content/swarm-id.js';
import type { PeerSession } from './peer-session.js';

/** Leaf hashes in a range asked for a player: 256 (8 KiB, 4 MiB of content at 16 KiB chunks). */
export const URGENT_HASH_SPAN = 256;
/**
 * Leaf hashes in a background range at most: 4,096 (128 KiB), so a player's range asked later does
 * not wait long behind one on the same channel.
 */
export const BACKGROUND_HASH_SPAN = 4096;
/** HASHES_REQUESTs in flight at once, at most; one of them for the background. */
export const MAX_HASH_REQUESTS_IN_FLIGHT = 4;
/** Urgent ranges remembered at most (each player's windows name a few). */
const MAX_URGENT = 64;

export interface LeafHashFetchEvents {
  /** Chunks first..last have known leaf hashes now. */
  known(first: number, last: number): void;
  /** The whole list is known (and checked against the root once more). */
  complete(leaves: LeafHashes): void;
  /** `session` sent hashes that do not lead to the root. */
  lied(session: PeerSession, why: unknown): void;
}

interface Asked {
  last: number;
  session: PeerSession;
  atMs: number;
  background: boolean;
}

/** Chunks first..last (inclusive). */
export interface ChunkSpan {
  first: number;
  last: number;
}

export class LeafHashFetch {
  readonly partial: PartialLeafHashes;
  /** Ranges asked and not answered, by first chunk. */
  private readonly inFlight = new Map<number, Asked>();
  /** First chunks of the urgent ranges not known yet, most urgent first (kept until known, so a range whose peer left is asked again). */
  private urgentRanges: number[] = [];
  /** No chunk before this one lacks its leaf hash (known ranges only grow). */
  private missingFrom = 0;
  private readonly backgroundSpan: number;
  private readonly urgentSpan: number;
  private done = false;
  /** Leaf hashes received and checked so far (a range may repeat some). */
  received = 0;

  constructor(
    private readonly metadata: SwarmMetadata,
    private readonly options: { hashesPerFrame?: number; timeoutMs: number },
    private readonly clock: Clock,
    private readonly events: LeafHashFetchEvents,
  ) {
    this.partial = new PartialLeafHashes(metadata);
    const perFrame = options.hashesPerFrame ?? DEFAULT_HASHES_PER_FRAME;
    // Ranges are whole subtrees: powers of two.
    this.backgroundSpan = Math.min(BACKGROUND_HASH_SPAN, 2 ** Math.floor(Math.log2(Math.max(1, perFrame))));
    this.urgentSpan = Math.min(URGENT_HASH_SPAN, this.backgroundSpan);
  }

  /**
   * The ranges holding these chunks come next, most urgent first, before the background ones; they
   * replace the urgent ranges named before. Every range a span touches counts (a player's read-ahead
   * may cross several).
   */
  urgent(spans: readonly ChunkSpan[]): void {
    const firsts: number[] = [];
    for (const { first, last } of spans) {
      const from = Math.max(0, first);
      const to = Math.min(last, this.metadata.chunkCount - 1);
      for (let r = from - (from % this.urgentSpan); r <= to && firsts.length < MAX_URGENT; r += this.urgentSpan) {
        if (!firsts.includes(r) && !this.known(r, this.rangeLast(r, this.urgentSpan))) firsts.push(r);
      }
    }
    this.urgentRanges = firsts;
  }

  /** Asks for the next ranges, of peers in `sessions` that hold everything. */
  ask(sessions: Iterable<PeerSession>): void {
    if (this.done) return;
    if (this.metadata.chunkCount === 0) return this.finish();
    // Peers with every chunk have every hash; others may have them all too, and are asked only when no such peer is here.
    const ready = [...sessions].filter((s) => s.ready && s.remote !== undefined);
    const complete = ready.filter((s) => s.remote!.isComplete);
    const sources = complete.length > 0 ? complete : ready;
    if (sources.length === 0) return;
    while (this.inFlight.size < MAX_HASH_REQUESTS_IN_FLIGHT) {
      const range = this.nextRange();
      if (!range) return;
      // Spread over the sources: the one with the fewest of our requests.
      const source = sources.reduce((best, s) => (this.askedOf(s) < this.askedOf(best) ? s : best));
      this.inFlight.set(range.first, { last: range.last, session: source, atMs: this.clock.now(), background: range.background });
      source.send({ type: 'hashesRequest', first: range.first, last: range.last });
    }
  }

  onHashes(session: PeerSession, first: number, hashes: Uint8Array, uncles: Uint8Array, sessions: Iterable<PeerSession>): void {
    const asked = this.inFlight.get(first);
    if (!asked || asked.session !== session || first + hashes.length / HASH_BYTES - 1 !== asked.last) throw invalidMessage('leaf hashes that were not asked for', 'unexpected_hashes');
    this.inFlight.delete(first);
    let range: ChunkSpan;
    try {
      range = this.partial.add(first, hashes, uncles);
    } catch (e) {
      // Hashes that do not lead to the root are a lie: the peer is dropped like one with a bad chunk.
      this.events.lied(session, e);
      this.ask(sessions);
      return;
    }
    this.received += hashes.length / HASH_BYTES;
    this.events.known(range.first, range.last);
    if (this.partial.complete) return this.finish();
    this.ask(sessions);
  }

  /** A peer that does not answer for its range within the timeout is dropped (its departure asks another). */
  tick(now: number): void {
    for (const asked of this.inFlight.values()) {
      if (now - asked.atMs >= this.options.timeoutMs) asked.session.fail(new ReloadError(ErrorCode.Request_Timeout, 'no leaf hashes in time', 'hashes_timeout'));
    }
  }

  /** `session` closed: its ranges are asked again, of the others in `sessions`. */
  gone(session: PeerSession, sessions: Iterable<PeerSession>): void {
    for (const [first, asked] of this.inFlight) if (asked.session === session) this.inFlight.delete(first);
    this.ask(sessions);
  }

  /** The next range to ask: the most urgent one not known nor asked, else a background one (one at a time). */
  private nextRange(): (ChunkSpan & { background: boolean }) | undefined {
    this.urgentRanges = this.urgentRanges.filter((r) => !this.known(r, this.rangeLast(r, this.urgentSpan)));
    for (const first of this.urgentRanges) {
      const last = this.rangeLast(first, this.urgentSpan);
      if (!this.overlapsInFlight(first, last)) return { first, last, background: false };
    }
    if ([...this.inFlight.values()].some((a) => a.background)) return undefined;
    const first = this.lowestUnasked();
    if (first === undefined) return undefined;
    // The largest subtree starting at that chunk (so nothing below it is asked again), up to the
    // background span, that overlaps no range asked already; one leaf always does.
    let span = this.backgroundSpan;
    while (first % span !== 0 || (span > 1 && this.overlapsInFlight(first, this.rangeLast(first, span)))) span /= 2;
    return { first, last: this.rangeLast(first, span), background: true };
  }

  /** The lowest chunk whose leaf hash is neither known nor asked for. */
  private lowestUnasked(): number | undefined {
    while (this.missingFrom < this.metadata.chunkCount && this.partial.has(this.missingFrom)) this.missingFrom++;
    let c = this.missingFrom;
    while (c < this.metadata.chunkCount) {
      const askedLast = this.inFlightAt(c);
      if (askedLast !== undefined) c = askedLast + 1;
      else if (this.partial.has(c)) c++;
      else return c;
    }
    return undefined;
  }

  /** The last chunk of the range asked that holds chunk `c`, if one does. */
  private inFlightAt(c: number): number | undefined {
    for (const [first, asked] of this.inFlight) if (first <= c && c <= asked.last) return asked.last;
    return undefined;
  }

  /** The last chunk of the aligned range of `span` leaves from `first`, clamped to the content. */
  private rangeLast(first: number, span: number): number {
    return Math.min(first + span, this.metadata.chunkCount) - 1;
  }

  private known(first: number, last: number): boolean {
    for (let c = first; c <= last; c++) if (!this.partial.has(c)) return false;
    return true;
  }

  private overlapsInFlight(first: number, last: number): boolean {
    for (const [f, asked] of this.inFlight) if (first <= asked.last && f <= last) return true;
    return false;
  }

  private askedOf(session: PeerSession): number {
    let n = 0;
    for (const asked of this.inFlight.values()) if (asked.session === session) n++;
    return n;
  }

  private finish(): void {
    this.done = true;
    this.events.complete(this.partial.toLeafHashes());
  }
}
