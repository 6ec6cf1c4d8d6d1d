/**
 * Data availability: which chunks of a swarm a peer holds (seed draft §4.2.2; RFC 7574 §3.2, §4.3.1).
 * On the wire it is a tagged structure `[tag, payload]`, so other structures can be added under new
 * tags: tag 1 a bitmap, tag 2 a list of chunk ranges (RFC 7574 §4.1.1). A HAVE update carries one
 * chunk range. Pure: no I/O. Every refusal of untrusted input is ReloadError(Invalid_Message).
 */
import { invalidMessage } from '../../../overlay/index.js';
import { ChunkBitmap, type ChunkRun } from './chunk-bitmap.js';
import { MAX_CHUNK_COUNT } from './swarm-id.js';

/** Tag of a bitmap payload: bytes, bit i = chunk i, most significant bit first, spare bits zero. */
export const AVAILABILITY_BITMAP = 1;
/** Tag of a ranges payload: [[first, last], ...] inclusive, ascending, with gaps between them. */
export const AVAILABILITY_RANGES = 2;

/** An inclusive chunk range: a HAVE update (RFC 7574 §3.2) or one entry of a ranges payload. */
export type HaveRange = ChunkRun;

/** Ascending chunk indices as maximal ranges of consecutive ones (duplicates fold in). */
export function consecutiveRuns(sorted: readonly number[]): HaveRange[] {
  const runs: HaveRange[] = [];
  for (const c of sorted) {
    const last = runs[runs.length - 1];
    if (last && c <= last.last + 1) last.last = Math.max(last.last, c);
    else runs.push({ first: c, last: c });
  }
  return runs;
}

/** The CBOR-ready wire form of an Availability. */
export type AvailabilityValue = [typeof AVAILABILITY_BITMAP, Uint8Array] | [typeof AVAILABILITY_RANGES, [number, number][]];

/**
 * The set of chunks a peer holds, over a swarm of `chunkCount` chunks (0..MAX_CHUNK_COUNT). The bits
 * live in a ChunkBitmap; this class adds the swarm's bounds and typed errors for untrusted input.
 */
export class Availability {
  /** Replaced only by fromBitmap, right after construction. */
  private bits: ChunkBitmap;

  constructor(readonly chunkCount: number) {
    if (!Number.isSafeInteger(chunkCount) || chunkCount < 0 || chunkCount > MAX_CHUNK_COUNT) {
      throw invalidMessage(`chunk count ${chunkCount} is outside 0..${MAX_CHUNK_COUNT}`, 'bad_chunk_count');
    }
    this.bits = new ChunkBitmap(chunkCount);
  }

  /** Chunks held. */
  get count(): number {
    return this.bits.count;
  }

  /** True once every chunk is held (also for a swarm of no chunks). */
  get isComplete(): boolean {
    return this.bits.isComplete;
  }

  /** Whether chunk `index` is held. Invalid_Message if out of range. */
  has(index: number): boolean {
    this.check(index);
    return this.bits.get(index);
  }

  /** Marks chunk `index` held; true if it was not already. Invalid_Message if out of range. */
  set(index: number): boolean {
    this.check(index);
    return this.bits.set(index);
  }

  /** Marks every chunk of a range held (a HAVE); returns how many were new. */
  setRange({ first, last }: HaveRange): number {
    this.check(first);
    this.check(last);
    if (first > last) throw invalidMessage(`range ${first}..${last} is reversed`, 'bad_range');
    return this.bits.setRange(first, last);
  }

  /** Whether every chunk of `range` is held (a peer told of it by HAVE would gain nothing). */
  hasRange({ first, last }: HaveRange): boolean {
    if (this.isComplete) return true;
    for (let i = first; i <= last; i++) if (!this.has(i)) return false;
    return true;
  }

  /** Chunks not held, ascending; skips full bytes, so cheap on a nearly complete bitmap. */
  missing(): IterableIterator<number> {
    return this.bits.missing();
  }

  /** The held chunks as maximal inclusive ranges, ascending; whole empty or full bytes are skipped. */
  ranges(): IterableIterator<HaveRange> {
    return this.bits.runs();
  }

  /**
   * The availability a bitmap describes (the tag 1 payload; also a saved download's state): exactly
   * ceil(chunkCount/8) bytes, no bit set past the last chunk. Invalid_Message otherwise. Copied.
   */
  static fromBitmap(chunkCount: number, bitmap: Uint8Array): Availability {
    const a = new Availability(chunkCount);
    const why = ChunkBitmap.problemWith(chunkCount, bitmap);
    if (why !== undefined) throw invalidMessage(`an availability bitmap: ${why}`, 'bad_availability');
    a.bits = ChunkBitmap.fromBytes(chunkCount, bitmap);
    return a;
  }

  /** A copy of the bitmap (the tag 1 payload). */
  toBitmap(): Uint8Array {
    return this.bits.toBytes();
  }

  private check(index: number): void {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.chunkCount) {
      throw invalidMessage(`chunk ${index} is out of range 0..${this.chunkCount - 1}`, 'chunk_out_of_range');
    }
  }
}

/** Bytes of a CBOR head (major type and argument) for `n`: what the two encodings are compared by. */
function headBytes(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x1_0000_0000 ? 5 : 9;
}

/**
 * The wire form of `a`: `preferred` if given, else whichever of the bitmap and the ranges encodes
 * to fewer CBOR bytes (the bitmap on a tie: fixed size, simpler to apply).
 */
export function encodeAvailability(a: Availability, preferred?: typeof AVAILABILITY_BITMAP | typeof AVAILABILITY_RANGES): AvailabilityValue {
  const ranges = [...a.ranges()].map(({ first, last }): [number, number] => [first, last]);
  if (preferred === AVAILABILITY_RANGES) return [AVAILABILITY_RANGES, ranges];
  if (preferred === AVAILABILITY_BITMAP) return [AVAILABILITY_BITMAP, a.toBitmap()];
  const bitmapBytes = headBytes(Math.ceil(a.chunkCount / 8)) + Math.ceil(a.chunkCount / 8);
  let rangesBytes = headBytes(ranges.length);
  for (const [first, last] of ranges) rangesBytes += 1 + headBytes(first) + headBytes(last);
  return rangesBytes < bitmapBytes ? [AVAILABILITY_RANGES, ranges] : [AVAILABILITY_BITMAP, a.toBitmap()];
}

/**
 * Parses a peer's availability for a swarm of `chunkCount` chunks, strictly: Invalid_Message for
 * anything but `[tag, payload]` with a known tag (reason `unknown_availability_tag` otherwise), a
 * bitmap of exactly ceil(chunkCount/8) bytes with no bit set past the last chunk, or ranges within
 * bounds, each first ≤ last, ascending with a gap between neighbours (the one encoding of a set;
 * at most ceil(chunkCount/2) of them).
 */
export function decodeAvailability(value: unknown, chunkCount: number): Availability {
  if (!Array.isArray(value) || value.length !== 2) throw invalidMessage('availability must be [tag, payload]', 'bad_availability');
  const [tag, payload] = value as [unknown, unknown];
  if (tag === AVAILABILITY_BITMAP) {
    if (!(payload instanceof Uint8Array)) throw invalidMessage('an availability bitmap must be a byte string', 'bad_availability');
    return Availability.fromBitmap(chunkCount, payload);
  }
  if (tag === AVAILABILITY_RANGES) {
    if (!Array.isArray(payload) || payload.length > Math.ceil(chunkCount / 2)) throw invalidMessage('availability ranges must be a list of at most ceil(chunkCount/2)', 'bad_availability');
    const a = new Availability(chunkCount);
    let previous = -2; // so that a first range starting at 0 leaves a gap
    for (const item of payload) {
      const { first, last } = decodeHave(item, chunkCount);
      if (first <= previous + 1) throw invalidMessage(`availability range ${first}..${last} is unsorted, overlapping or adjacent to the previous`, 'bad_availability');
      a.setRange({ first, last });
      previous = last;
    }
    return a;
  }
  throw invalidMessage(`unknown availability tag ${String(tag)}`, 'unknown_availability_tag');
}

/** The wire form of a HAVE: `[first, last]`. */
export function encodeHave(range: HaveRange): [number, number] {
  return [range.first, range.last];
}

/** Parses `[first, last]` with 0 ≤ first ≤ last < chunkCount. Invalid_Message otherwise. */
export function decodeHave(value: unknown, chunkCount: number): HaveRange {
  if (!Array.isArray(value) || value.length !== 2) throw invalidMessage('a chunk range must be [first, last]', 'bad_range');
  const [first, last] = value.map(chunkIndex) as [number, number];
  if (first > last || last >= chunkCount) throw invalidMessage(`chunk range ${first}..${last} is not within 0..${chunkCount - 1}`, 'bad_range');
  return { first, last };
}

/** A chunk index as a number: cbor-x hands back 8-byte integer heads as bigints. */
function chunkIndex(value: unknown): number {
  if (typeof value === 'bigint' && value >= 0n && value <= BigInt(MAX_CHUNK_COUNT)) return Number(value);
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  throw invalidMessage('a chunk index must be a non-negative integer', 'bad_range');
}
