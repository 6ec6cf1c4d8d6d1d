/**
 * 128-bit Node-IDs and Resource-IDs (RFC 6940 §3, CHORD-RELOAD §10.2): byte form, hex form,
 * hashing of names, ring and XOR arithmetic. Pure; knows nothing else of the overlay.
 */
import { createHash, randomBytes } from 'node:crypto';

/** Bytes in a Node-ID / Resource-ID of this overlay (RFC 6940 `node-id-length`, default 16). */
export const ID_BYTES = 16;
/** The size of the identifier ring, 2^128. */
export const RING_SIZE = 1n << BigInt(ID_BYTES * 8);
const RING_MASK = RING_SIZE - 1n;

/** A 16-byte identifier. A branded Uint8Array so that arbitrary bytes are not passed by mistake. */
export type Id = Uint8Array & { readonly __id: true };

/** Hash algorithms an overlay may name for Resource-IDs. */
export type IdHash = 'sha1' | 'sha256';
export const ID_HASHES: readonly IdHash[] = ['sha1', 'sha256'];

/** Raised for a malformed identifier; callers map it to Invalid_Message or a CLI message. */
export class IdFormatError extends Error {
  override name = 'IdFormatError';
}

const HEX_ID = /^[0-9a-f]{32}$/i;

/** Accepts exactly ID_BYTES bytes; copies, so the caller's buffer may be reused. */
export function idFromBytes(bytes: Uint8Array): Id {
  if (bytes.length !== ID_BYTES) throw new IdFormatError(`an id is ${ID_BYTES} bytes, got ${bytes.length}`);
  return Uint8Array.from(bytes) as Id;
}

/** Parses 32 hex digits (either case). */
export function idFromHex(hex: string): Id {
  if (!HEX_ID.test(hex)) throw new IdFormatError(`an id is ${ID_BYTES * 2} hex digits, got "${hex.slice(0, 40)}"`);
  return Uint8Array.from(Buffer.from(hex, 'hex')) as Id;
}

/** Char codes of the hex digits, and the codes of one id's digits, reused by each call. */
const HEX_DIGITS = [...'0123456789abcdef'].map((c) => c.charCodeAt(0));
const hexCodes: number[] = [];

/**
 * Lowercase hex, the form used in certificates, logs and the API. Ids become map keys on every
 * message, so this is hot: one string made from char codes is flat, where joining two digits per
 * byte built a chain of pieces to be flattened again when hashed as a key, and going through a
 * Buffer costs more than the digits.
 */
export function idToHex(id: Uint8Array): string {
  // Longer byte strings (opaque ids, hashes) are rare: no argument list as long as they are.
  if (id.length > ID_BYTES * 2) return Buffer.from(id.buffer, id.byteOffset, id.length).toString('hex');
  hexCodes.length = 2 * id.length;
  for (let i = 0; i < id.length; i++) {
    hexCodes[2 * i] = HEX_DIGITS[id[i]! >> 4]!;
    hexCodes[2 * i + 1] = HEX_DIGITS[id[i]! & 0xf]!;
  }
  return String.fromCharCode(...hexCodes);
}

export function isHexId(text: string): boolean {
  return HEX_ID.test(text);
}

/** All-zero is not a valid Node-ID; all-ones is the wildcard (RFC 6940 §3). */
export function isValidNodeId(id: Uint8Array): boolean {
  return id.length === ID_BYTES && id.some((b) => b !== 0) && id.some((b) => b !== 0xff);
}

/** The wildcard Node-ID: always local, never forwarded (RFC 6940 §6.1.1). */
export const WILDCARD_ID = new Uint8Array(ID_BYTES).fill(0xff) as Id;

export function randomId(): Id {
  for (;;) {
    const id = randomBytes(ID_BYTES) as Uint8Array as Id;
    if (isValidNodeId(id)) return Uint8Array.from(id) as Id;
  }
}

/**
 * Resource-ID of a name: the overlay's hash truncated to the high-order 128 bits
 * (CHORD-RELOAD §10.2 names SHA-1; SHA-256 is selectable in the overlay config).
 */
export function resourceIdOf(name: string | Uint8Array, hash: IdHash = 'sha1'): Id {
  const digest = createHash(hash).update(name).digest();
  return Uint8Array.from(digest.subarray(0, ID_BYTES)) as Id;
}

export function idEquals(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Unsigned big-endian order: negative if a < b. */
export function compareIds(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/**
 * Scratch bytes for the conversions below, read through one view: making a DataView per call cost
 * more than the arithmetic, and Chord does this for every peer named in every Update.
 */
const scratch = new Uint8Array(ID_BYTES);
const scratchView = new DataView(scratch.buffer);

function scratchValue(): bigint {
  return (scratchView.getBigUint64(0) << 64n) | scratchView.getBigUint64(8);
}

export function idToBigInt(id: Uint8Array): bigint {
  if (id.length !== ID_BYTES) return BigInt('0x' + (idToHex(id) || '0'));
  scratch.set(id);
  return scratchValue();
}

/** The id of a value modulo 2^128. */
export function idFromBigInt(value: bigint): Id {
  const v = ((value % RING_SIZE) + RING_SIZE) & RING_MASK;
  return idFromHex(v.toString(16).padStart(ID_BYTES * 2, '0'));
}

/** Clockwise distance from `from` to `to` on the ring, in [0, 2^128). */
export function ringDistance(from: Uint8Array, to: Uint8Array): bigint {
  if (from.length !== ID_BYTES || to.length !== ID_BYTES) return (idToBigInt(to) - idToBigInt(from)) & RING_MASK;
  // Byte by byte with a borrow, wrapping at 2^128: one number made instead of five.
  let borrow = 0;
  for (let i = ID_BYTES - 1; i >= 0; i--) {
    const d = to[i]! - from[i]! - borrow;
    borrow = d < 0 ? 1 : 0;
    scratch[i] = d & 0xff;
  }
  return scratchValue();
}

/** `id + delta` on the ring (Chord finger targets: n + 2^(128-i)). */
export function addToId(id: Uint8Array, delta: bigint): Id {
  return idFromBigInt(idToBigInt(id) + delta);
}

/** True when x lies in the half-open ring interval (from, to]; the whole ring when from == to. */
export function inRingInterval(x: Uint8Array, from: Uint8Array, to: Uint8Array): boolean {
  const span = ringDistance(from, to);
  const offset = ringDistance(from, x);
  return span === 0n ? true : offset !== 0n && offset <= span;
}

/** Kademlia distance a XOR b, as 16 bytes (compare with compareIds, never as a float). */
export function xorDistance(a: Uint8Array, b: Uint8Array): Id {
  if (a.length !== ID_BYTES || b.length !== ID_BYTES) throw new IdFormatError('xorDistance needs two ids');
  const out = new Uint8Array(ID_BYTES);
  for (let i = 0; i < ID_BYTES; i++) out[i] = a[i]! ^ b[i]!;
  return out as Id;
}
