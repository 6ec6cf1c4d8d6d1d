/**
 * The pure half of the chunk store: swarm geometry (how content is cut into chunks) and the byte
 * layout of the `.part.state` sidecar (its bitmap is a ChunkBitmap, content/chunk-bitmap.ts). No
 * I/O here, so each piece is tested on its own and the store's other files only move bytes.
 */

import { ErrorCode, ReloadError, invalidMessage } from '../../../overlay/index.js';
import { ChunkBitmap } from '../content/chunk-bitmap.js';

/**
 * Largest chunk we accept, in bytes (16 MiB): a read allocates one chunk (a range read at most
 * MAX_CHUNKS_PER_IO of them, see chunk-read-path.ts), so this bounds memory per read.
 */
export const MAX_CHUNK_SIZE_BYTES = 16 * 1024 * 1024;

/** Longest swarm ID we record, in characters (lowercase hex of the root, with room for longer hashes). */
export const MAX_SWARM_ID_CHARS = 256;

/**
 * Magic and version at the start of every sidecar. The last byte is the format version, so a later
 * layout is refused as "not ours" rather than misread.
 */
export const SIDECAR_MAGIC = Buffer.from('RPPSPST\x01', 'latin1');

/** How content of `contentLength` bytes is cut into chunks of `chunkSize` bytes (RFC 7574 §4). */
export interface ChunkGeometry {
  /** Bytes per chunk; every chunk but the last has exactly this size. */
  readonly chunkSize: number;
  /** Total content size in bytes. 0 means an empty swarm with no chunks. */
  readonly contentLength: number;
  /** ceil(contentLength / chunkSize). */
  readonly chunkCount: number;
}

/** The number of chunks `contentLength` bytes make (0 for empty content). */
export function chunkCountOf(contentLength: number, chunkSize: number): number {
  return Math.ceil(contentLength / chunkSize);
}

/**
 * Checks swarm metadata before any file is touched, and derives the chunk count. A `chunkCount`
 * given alongside must agree: disagreeing metadata is bad input, refused as Invalid_Message.
 */
export function checkGeometry(chunkSize: number, contentLength: number, chunkCount?: number): ChunkGeometry {
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1 || chunkSize > MAX_CHUNK_SIZE_BYTES) {
    throw invalidMessage(`chunk size ${chunkSize} is not an integer in 1..${MAX_CHUNK_SIZE_BYTES}`, 'bad_metadata');
  }
  if (!Number.isSafeInteger(contentLength) || contentLength < 0) {
    throw invalidMessage(`content length ${contentLength} is not a non-negative integer`, 'bad_metadata');
  }
  const count = chunkCountOf(contentLength, chunkSize);
  if (chunkCount !== undefined && chunkCount !== count) {
    throw invalidMessage(`chunk count ${chunkCount} disagrees with ${contentLength} bytes in chunks of ${chunkSize} (${count})`, 'bad_metadata');
  }
  return { chunkSize, contentLength, chunkCount: count };
}

/**
 * Refuses a chunk index outside the swarm. Runs before any I/O, so a bad index can never reach
 * the file. Non-integers are out of range too.
 */
export function checkIndex(geometry: ChunkGeometry, index: number): void {
  if (!Number.isSafeInteger(index) || index < 0 || index >= geometry.chunkCount) {
    throw invalidMessage(`chunk ${index} is outside 0..${geometry.chunkCount - 1}`, 'out_of_range');
  }
}

/** Byte length of chunk `index` (the last chunk may be short). The index must be in range. */
export function chunkLengthOf(geometry: ChunkGeometry, index: number): number {
  return Math.min(geometry.chunkSize, geometry.contentLength - index * geometry.chunkSize);
}

/** Shorthand for "we do not hold that chunk". */
export function chunkNotFound(index: number): ReloadError {
  return new ReloadError(ErrorCode.Not_Found, `chunk ${index} is not stored`, 'not_found');
}

/** What a sidecar's header records: which swarm the partial file belongs to and its geometry. */
export interface SidecarHeader {
  swarmId: string;
  chunkSize: number;
  contentLength: number;
}

/**
 * Header layout: magic (8 bytes), swarm ID length (u16 BE), swarm ID (ASCII), chunk size (u32 BE),
 * content length (u64 BE). The bitmap follows at `encodeSidecarHeader(h).length`.
 */
export function encodeSidecarHeader(header: SidecarHeader): Buffer {
  const id = Buffer.from(header.swarmId, 'latin1');
  const out = Buffer.alloc(SIDECAR_MAGIC.length + 2 + id.length + 4 + 8);
  let at = SIDECAR_MAGIC.copy(out, 0);
  at = out.writeUInt16BE(id.length, at);
  at += id.copy(out, at);
  at = out.writeUInt32BE(header.chunkSize, at);
  out.writeBigUInt64BE(BigInt(header.contentLength), at);
  return out;
}

/** A whole sidecar: the header, then the bitmap's bytes. */
export function encodeSidecar(header: SidecarHeader, bitmap: ChunkBitmap): Buffer {
  return Buffer.concat([encodeSidecarHeader(header), bitmap.toBytes()]);
}

/** A decoded sidecar, or why it is not one. */
export type DecodedSidecar = { ok: true; header: SidecarHeader; headerLength: number; bitmap: ChunkBitmap } | { ok: false; why: string };

/**
 * Reads a sidecar's bytes. Never throws: a file that is not a well-formed sidecar is reported with
 * a reason, so the store can name the path and suggest a restart. The length must be exact,
 * because the bitmap's size follows from the recorded geometry.
 */
export function decodeSidecar(bytes: Buffer): DecodedSidecar {
  const fixed = SIDECAR_MAGIC.length + 2;
  if (bytes.length < fixed || !bytes.subarray(0, SIDECAR_MAGIC.length).equals(SIDECAR_MAGIC)) return { ok: false, why: 'not a chunk-store state file (bad magic or version)' };
  const idLength = bytes.readUInt16BE(SIDECAR_MAGIC.length);
  const headerLength = fixed + idLength + 4 + 8;
  if (bytes.length < headerLength) return { ok: false, why: 'truncated header' };
  const swarmId = bytes.toString('latin1', fixed, fixed + idLength);
  const chunkSize = bytes.readUInt32BE(fixed + idLength);
  const contentLength = bytes.readBigUInt64BE(fixed + idLength + 4);
  if (chunkSize < 1 || contentLength > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, why: 'impossible geometry' };
  const header = { swarmId, chunkSize, contentLength: Number(contentLength) };
  const chunkCount = chunkCountOf(header.contentLength, chunkSize);
  const expected = headerLength + Math.ceil(chunkCount / 8);
  if (bytes.length !== expected) return { ok: false, why: `${bytes.length} bytes where the recorded geometry needs ${expected}` };
  // Bits past the last chunk mean nothing in a sidecar; they are dropped, so a stray one cannot count.
  return { ok: true, header, headerLength, bitmap: ChunkBitmap.fromBytes(chunkCount, bytes.subarray(headerLength), { clearSpareBits: true }) };
}

/** A swarm ID as we record it: lowercase hex, non-empty, at most MAX_SWARM_ID_CHARS characters. */
export function checkSwarmId(swarmId: string): void {
  if (typeof swarmId !== 'string' || swarmId.length === 0 || swarmId.length > MAX_SWARM_ID_CHARS || !/^[0-9a-f]+$/.test(swarmId)) {
    throw invalidMessage(`swarm ID ${JSON.stringify(String(swarmId).slice(0, 80))} is not lowercase hex of 1..${MAX_SWARM_ID_CHARS} characters`, 'bad_swarm_id');
  }
}
