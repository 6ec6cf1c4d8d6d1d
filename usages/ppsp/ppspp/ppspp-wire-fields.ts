/**
 * Big-endian field reading and writing for the PPSPP datagram codec (RFC 7574 §8.2: "integers are
 * serialized in the network (big-endian) byte order"). The reader is the one place bytes are taken
 * from an untrusted datagram: running past its end is ReloadError(Invalid_Message) naming the field,
 * reason `truncated`. The writer checks each value's range as it goes, so an encoder never emits a
 * silently wrapped integer.
 */
import { fail, uint } from '../../../overlay/index.js';

const MAX_U64 = (1n << 64n) - 1n;

/** A cursor over a datagram. Byte fields it returns are views into the datagram, not copies. */
export class WireReader {
  private offset = 0;
  private readonly view: DataView;

  constructor(private readonly data: Uint8Array) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  /** Bytes not read yet. */
  get remaining(): number {
    return this.data.length - this.offset;
  }

  u8(field: string): number {
    return this.view.getUint8(this.take(1, field));
  }

  u16(field: string): number {
    return this.view.getUint16(this.take(2, field));
  }

  u32(field: string): number {
    return this.view.getUint32(this.take(4, field));
  }

  u64(field: string): bigint {
    return this.view.getBigUint64(this.take(8, field));
  }

  bytes(n: number, field: string): Uint8Array {
    const at = this.take(n, field);
    return this.data.subarray(at, at + n);
  }

  /** Everything left (DATA runs to the end of its datagram, RFC 7574 §8.6). */
  rest(): Uint8Array {
    return this.bytes(this.remaining, 'rest');
  }

  private take(n: number, field: string): number {
    if (this.remaining < n) fail(field, `needs ${n} bytes, the datagram has ${this.remaining} left`, 'truncated');
    const at = this.offset;
    this.offset += n;
    return at;
  }
}

/** Collects the fields of a datagram; `toBuffer` joins them once at the end. */
export class WireWriter {
  private readonly parts: Uint8Array[] = [];
  private size = 0;

  get length(): number {
    return this.size;
  }

  u8(value: number, field: string): void {
    this.push(Buffer.of(uint(value, field, 0, 0xff)));
  }

  u16(value: number, field: string): void {
    const b = Buffer.allocUnsafe(2);
    b.writeUInt16BE(uint(value, field, 0, 0xffff));
    this.push(b);
  }

  u32(value: number, field: string): void {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32BE(uint(value, field, 0, 0xffffffff));
    this.push(b);
  }

  u64(value: bigint, field: string): void {
    if (typeof value !== 'bigint' || value < 0n || value > MAX_U64) fail(field, 'must be a bigint in 0..2^64-1');
    const b = Buffer.allocUnsafe(8);
    b.writeBigUInt64BE(value);
    this.push(b);
  }

  /** Exactly `n` bytes when `n` is given (a fixed-size field), else any number. */
  bytes(value: Uint8Array, field: string, n?: number): void {
    if (!(value instanceof Uint8Array)) fail(field, 'must be a byte string');
    if (n !== undefined && value.length !== n) fail(field, `must be ${n} bytes, got ${value.length}`);
    this.push(value);
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.parts, this.size);
  }

  private push(part: Uint8Array): void {
    this.parts.push(part);
    this.size += part.length;
  }
}
