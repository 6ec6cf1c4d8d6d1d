/**
 * The one bitmap of "which chunks": BitTorrent's layout, which RFC 7574 bitmaps share. Chunk i is
 * byte i>>3, mask 0x80>>(i&7) (bit 7 of byte 0 is chunk 0); ceil(size/8) bytes; the spare bits of
 * the last byte are zero. Used by Availability (what a peer holds, on the wire) and by the chunk
 * store (what is written, what is persisted in the sidecar). Pure: no I/O, and plain errors
 * (RangeError) for misuse — callers that parse untrusted input check with `problemWith` first and
 * raise their own typed error.
 */

/** An inclusive run of chunk indices. */
export interface ChunkRun {
  first: number;
  last: number;
}

/** Bytes a bitmap of `size` chunks takes. */
export function bitmapBytes(size: number): number {
  return Math.ceil(size / 8);
}

export class ChunkBitmap {
  private readonly bits: Uint8Array;
  private setCount = 0;

  /** An empty bitmap of `size` chunks (a non-negative safe integer). */
  constructor(readonly size: number) {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`chunk bitmap: size ${size} is not a non-negative integer`);
    this.bits = new Uint8Array(bitmapBytes(size));
  }

  /**
   * Why `bytes` is not a bitmap of `size` chunks (wrong type or length, a bit set past the last
   * chunk), or undefined if it is one. For parsers that turn the answer into their own error.
   */
  static problemWith(size: number, bytes: unknown): string | undefined {
    const length = bitmapBytes(size);
    if (!(bytes instanceof Uint8Array) || bytes.length !== length) return `a bitmap of ${size} chunks must be ${length} bytes`;
    if (length > 0 && (bytes[length - 1]! & spareMask(size)) !== 0) return `a bitmap of ${size} chunks has bits set past the last chunk`;
    return undefined;
  }

  /**
   * The bitmap `bytes` describe, copied. RangeError (see `problemWith`) unless it is exactly one;
   * with `clearSpareBits`, bits past the last chunk are dropped instead of refused.
   */
  static fromBytes(size: number, bytes: Uint8Array, options: { clearSpareBits?: boolean } = {}): ChunkBitmap {
    const out = new ChunkBitmap(size);
    if (options.clearSpareBits && bytes instanceof Uint8Array && bytes.length === out.bits.length) {
      out.bits.set(bytes);
      if (out.bits.length > 0) out.bits[out.bits.length - 1]! &= ~spareMask(size) & 0xff;
    } else {
      const why = ChunkBitmap.problemWith(size, bytes);
      if (why !== undefined) throw new RangeError(`chunk bitmap: ${why}`);
      out.bits.set(bytes);
    }
    for (const b of out.bits) out.setCount += popcount(b);
    return out;
  }

  /** Chunks whose bit is set. */
  get count(): number {
    return this.setCount;
  }

  /** True once every bit is set (also for a bitmap of no chunks). */
  get isComplete(): boolean {
    return this.setCount === this.size;
  }

  /** Whether bit `index` is set. Never throws: false outside 0..size-1 and for non-integers. */
  get(index: number): boolean {
    if (!this.inRange(index)) return false;
    return (this.bits[index >> 3]! & (0x80 >> (index & 7))) !== 0;
  }

  /** Sets bit `index`; false if it was already set. RangeError outside 0..size-1. */
  set(index: number): boolean {
    this.checkIndex(index);
    const mask = 0x80 >> (index & 7);
    if ((this.bits[index >> 3]! & mask) !== 0) return false;
    this.bits[index >> 3]! |= mask;
    this.setCount++;
    return true;
  }

  /** Sets bits `first`..`last` inclusive; returns how many were new. RangeError for a bad or reversed range. */
  setRange(first: number, last: number): number {
    this.checkIndex(first);
    this.checkIndex(last);
    if (first > last) throw new RangeError(`chunk bitmap: range ${first}..${last} is reversed`);
    let added = 0;
    for (let i = first; i <= last; ) {
      if ((i & 7) === 0 && i + 7 <= last) {
        // A whole byte at once: a HAVE of a long range costs one step per 8 chunks.
        const fresh = 8 - popcount(this.bits[i >> 3]!);
        this.bits[i >> 3] = 0xff;
        this.setCount += fresh;
        added += fresh;
        i += 8;
      } else {
        if (this.set(i)) added++;
        i++;
      }
    }
    return added;
  }

  /** Indices whose bit is clear, ascending; reads the live bitmap, so bits set meanwhile are skipped. */
  *missing(): IterableIterator<number> {
    for (let byte = 0; byte < this.bits.length; byte++) {
      if (this.bits[byte] === 0xff) continue;
      for (let i = byte * 8; i < Math.min(this.size, byte * 8 + 8); i++) if (!this.get(i)) yield i;
    }
  }

  /** The set bits as maximal inclusive runs, ascending; whole empty or full bytes are skipped in one step. */
  *runs(): IterableIterator<ChunkRun> {
    let first = -1;
    for (let i = 0; i < this.size; ) {
      const byte = this.bits[i >> 3]!;
      if ((i & 7) === 0 && (byte === 0 || byte === 0xff) && i + 8 <= this.size) {
        if (byte === 0xff && first < 0) first = i;
        if (byte === 0 && first >= 0) {
          yield { first, last: i - 1 };
          first = -1;
        }
        i += 8;
        continue;
      }
      const held = (byte & (0x80 >> (i & 7))) !== 0;
      if (held && first < 0) first = i;
      if (!held && first >= 0) {
        yield { first, last: i - 1 };
        first = -1;
      }
      i++;
    }
    if (first >= 0) yield { first, last: this.size - 1 };
  }

  /** A copy of the bytes, or of bytes `start`..`end` (exclusive) only: what a sidecar rewrites. */
  toBytes(start = 0, end = this.bits.length): Uint8Array {
    return this.bits.slice(start, end);
  }

  /** An independent copy. */
  clone(): ChunkBitmap {
    return ChunkBitmap.fromBytes(this.size, this.bits);
  }

  private inRange(index: number): boolean {
    return Number.isSafeInteger(index) && index >= 0 && index < this.size;
  }

  private checkIndex(index: number): void {
    if (!this.inRange(index)) throw new RangeError(`chunk bitmap: chunk ${index} is outside 0..${this.size - 1}`);
  }
}

/** The spare (unused) low bits of the last byte of a bitmap of `size` chunks, as a mask. */
function spareMask(size: number): number {
  const spare = bitmapBytes(size) * 8 - size;
  return (1 << spare) - 1;
}

function popcount(b: number): number {
  let n = 0;
  for (let v = b; v !== 0; v &= v - 1) n++;
  return n;
}
