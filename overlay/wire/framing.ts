/**
 * Length-prefixed framing of messages on a byte stream: a 4-byte big-endian length, then that many
 * bytes. A length above the limit is refused as soon as its prefix arrives, before any of the
 * frame is buffered (RFC 6940 §6.6: Message_Too_Large, then the link closes).
 */
import { ErrorCode, ReloadError } from '../errors.js';

export const FRAME_PREFIX_BYTES = 4;

/** The prefix for a frame of `length` bytes; send it, then the frame itself (no copy). */
export function framePrefix(length: number): Buffer {
  const prefix = Buffer.allocUnsafe(FRAME_PREFIX_BYTES);
  prefix.writeUInt32BE(length, 0);
  return prefix;
}

/** Prefix and frame in one buffer. */
export function frame(bytes: Uint8Array): Buffer {
  return Buffer.concat([framePrefix(bytes.length), bytes]);
}

/** Cuts a byte stream into frames. Not reusable after it has thrown. */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private expected = -1;

  /** @param maxFrameBytes the largest frame accepted (the overlay's maxMessageSize) */
  constructor(readonly maxFrameBytes: number) {}

  /** Bytes held waiting for the rest of a frame. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /**
   * Adds bytes from the stream and returns the frames they complete. Throws
   * ReloadError(Message_Too_Large) for an over-size length and Invalid_Message for an empty frame.
   */
  push(chunk: Uint8Array): Buffer[] {
    this.chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.buffered += chunk.byteLength;
    const out: Buffer[] = [];
    for (;;) {
      if (this.expected < 0) {
        if (this.buffered < FRAME_PREFIX_BYTES) break;
        const length = this.take(FRAME_PREFIX_BYTES).readUInt32BE(0);
        if (length > this.maxFrameBytes) {
          this.chunks = [];
          this.buffered = 0;
          throw new ReloadError(ErrorCode.Message_Too_Large, `frame of ${length} bytes exceeds the limit of ${this.maxFrameBytes}`);
        }
        if (length === 0) throw new ReloadError(ErrorCode.Invalid_Message, 'empty frame', 'empty_frame');
        this.expected = length;
      }
      if (this.buffered < this.expected) break;
      out.push(this.take(this.expected));
      this.expected = -1;
    }
    return out;
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    let result: Buffer;
    if (first.length >= n) {
      result = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      // Copy exactly the frame's bytes: joining everything buffered would copy the start of the
      // next frames too, and again each time one of them straddles a read.
      result = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const head = this.chunks[0]!;
        const part = Math.min(head.length, n - filled);
        head.copy(result, filled, 0, part);
        filled += part;
        if (part === head.length) this.chunks.shift();
        else this.chunks[0] = head.subarray(part);
      }
    }
    this.buffered -= n;
    return result;
  }
}
