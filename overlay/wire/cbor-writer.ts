/**
 * Writes the few CBOR forms the message envelope needs (unsigned integers, byte strings, arrays) into
 * one buffer of a size known in advance, in the shortest form, as cbor-x writes them. Every hop
 * re-encodes the envelope with its own via list: the generic encoder's per-call setup and output
 * buffers cost more than the bytes.
 */

const MAJOR_UNSIGNED = 0;
const MAJOR_BYTES = 2;
const MAJOR_ARRAY = 4;

/** Bytes of a head carrying `value`, at most 2^32 − 1: every field and length of a message (RFC 8949 §3: shortest form). */
export function headSize(value: number): number {
  return value < 24 ? 1 : value < 0x100 ? 2 : value < 0x10000 ? 3 : 5;
}

/** Bytes of a byte string of `length` bytes, head included. */
export function byteStringSize(length: number): number {
  return headSize(length) + length;
}

export class CborWriter {
  readonly bytes: Buffer;
  private at = 0;

  constructor(size: number) {
    // A buffer of its own, not a slice of Node's shared 8 KiB pool: a receiver that keeps a view
    // into a frame (a stored value) then keeps this frame alive, not the frames around it, and
    // frames in flight die young one by one (see kept-message.ts for why that matters).
    this.bytes = Buffer.allocUnsafeSlow(size);
  }

  unsigned(value: number): void {
    this.head(MAJOR_UNSIGNED, value);
  }

  byteString(value: Uint8Array): void {
    this.head(MAJOR_BYTES, value.length);
    this.bytes.set(value, this.at);
    this.at += value.length;
  }

  /** An 8-byte byte string holding `value` big-endian (a transaction id). */
  byteStringU64(value: bigint): void {
    this.head(MAJOR_BYTES, 8);
    this.bytes.writeBigUInt64BE(value, this.at);
    this.at += 8;
  }

  array(length: number): void {
    this.head(MAJOR_ARRAY, length);
  }

  /** The encoded item; throws if fewer bytes were written than the size announced. */
  finish(): Buffer {
    if (this.at !== this.bytes.length) throw new Error(`CBOR writer: ${this.at} bytes written, ${this.bytes.length} announced`);
    return this.bytes;
  }

  private head(major: number, value: number): void {
    const b = this.bytes;
    const type = major << 5;
    if (value < 24) {
      b[this.at++] = type | value;
    } else if (value < 0x100) {
      b[this.at++] = type | 24;
      b[this.at++] = value;
    } else if (value < 0x10000) {
      b[this.at++] = type | 25;
      b.writeUInt16BE(value, this.at);
      this.at += 2;
    } else {
      b[this.at++] = type | 26;
      b.writeUInt32BE(value, this.at);
      this.at += 4;
    }
  }
}
