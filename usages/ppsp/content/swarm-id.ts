/**
 * A static swarm's identity and geometry. RFC 7574 §4.1/§5.1 names a static swarm by its Merkle root
 * alone and lets the size be discovered (§5.6); issue 5 asks the ID to commit to the content length
 * and chunk size as well, so a peer knows the tree's shape (hence every proof's length) before it
 * fetches anything, and two swarms over the same chunk hashes but different geometry never collide.
 * Pure: no I/O.
 */
import { createHash } from 'node:crypto';
import { invalidMessage } from '../../../overlay/index.js';
import { HASH_BYTES } from './merkle.js';

/** Default chunk size in bytes: 16 KiB (issue 5; RFC 7574 §8.1 recommends 1 KiB for UDP only). */
export const DEFAULT_CHUNK_SIZE = 16 * 1024;
/** Smallest chunk size in bytes: 1 KiB (RFC 7574 §8.1's recommended size). */
export const MIN_CHUNK_SIZE = 1024;
/** Largest chunk size in bytes: 1 MiB, so a DATA message stays well under the overlay's 1 MiB default. */
export const MAX_CHUNK_SIZE = 1024 * 1024;
/**
 * Most chunks in one swarm: 2^22, so a full availability bitmap (512 KiB) fits in one overlay
 * message (default limit 1 MiB). That is 64 GiB at the default chunk size, 4 TiB at 1 MiB.
 */
export const MAX_CHUNK_COUNT = 1 << 22;
/** What a tls-only swarm's ID hashes after the geometry. */
const TLS_ONLY = Buffer.from([1]);
/** Characters of a swarm ID: SHA-256 in hex. */
export const SWARM_ID_HEX_LENGTH = 2 * HASH_BYTES;

/** A power of two in MIN_CHUNK_SIZE..MAX_CHUNK_SIZE bytes. */
export function isValidChunkSize(chunkSize: unknown): chunkSize is number {
  return typeof chunkSize === 'number' && Number.isInteger(chunkSize) && chunkSize >= MIN_CHUNK_SIZE && chunkSize <= MAX_CHUNK_SIZE && (chunkSize & (chunkSize - 1)) === 0;
}

/**
 * The number of chunks of `contentLength` bytes cut into `chunkSize`-byte chunks: ceil(length /
 * chunkSize), 0 for empty content. Invalid_Message for a bad chunk size, a length that is not a
 * non-negative safe integer, or more than MAX_CHUNK_COUNT chunks.
 */
export function chunkCountOf(contentLength: number, chunkSize: number): number {
  if (!isValidChunkSize(chunkSize)) throw invalidMessage(`chunk size ${chunkSize} is not a power of two in ${MIN_CHUNK_SIZE}..${MAX_CHUNK_SIZE}`, 'bad_chunk_size');
  if (!Number.isSafeInteger(contentLength) || contentLength < 0) throw invalidMessage(`content length ${contentLength} is not a non-negative integer`, 'bad_content_length');
  const count = Math.ceil(contentLength / chunkSize);
  if (count > MAX_CHUNK_COUNT) throw invalidMessage(`${count} chunks exceed the limit of ${MAX_CHUNK_COUNT}; use a larger chunk size`, 'too_many_chunks');
  return count;
}

/**
 * Byte offsets of chunk `index`: [start, end), end exclusive. Every chunk is `chunkSize` bytes but
 * the last, which may be short. Invalid_Message for an index outside 0..chunkCount-1.
 */
export function chunkRange(index: number, contentLength: number, chunkSize: number): { start: number; end: number } {
  const count = chunkCountOf(contentLength, chunkSize);
  if (!Number.isSafeInteger(index) || index < 0 || index >= count) throw invalidMessage(`chunk ${index} is out of range 0..${count - 1}`, 'chunk_out_of_range');
  const start = index * chunkSize;
  return { start, end: Math.min(start + chunkSize, contentLength) };
}

/**
 * The swarm ID: lowercase hex of SHA-256(root hash (32 B) ‖ content length (u64, big-endian) ‖
 * chunk size (u32, big-endian)), and one byte 0x01 after them for a swarm whose data may travel
 * only over tls (seed §4.6.1): a peer cannot drop that requirement without changing the ID.
 * Invalid_Message for a root that is not 32 bytes or bad geometry.
 */
export function swarmIdOf(rootHash: Uint8Array, contentLength: number, chunkSize: number, tlsOnly = false): string {
  if (rootHash.length !== HASH_BYTES) throw invalidMessage(`a root hash must be ${HASH_BYTES} bytes`, 'bad_hash_length');
  chunkCountOf(contentLength, chunkSize);
  const geometry = Buffer.alloc(12);
  geometry.writeBigUInt64BE(BigInt(contentLength), 0);
  geometry.writeUInt32BE(chunkSize, 8);
  return createHash('sha256')
    .update(rootHash)
    .update(tlsOnly ? Buffer.concat([geometry, TLS_ONLY]) : geometry)
    .digest('hex');
}

/** Parses a swarm ID as typed or received: exactly 64 hex digits, either case; returns it lowercase. */
export function parseSwarmId(text: unknown): string {
  if (typeof text !== 'string' || text.length !== SWARM_ID_HEX_LENGTH || !/^[0-9a-fA-F]+$/.test(text)) {
    throw invalidMessage(`a swarm ID is ${SWARM_ID_HEX_LENGTH} hex digits`, 'bad_swarm_id');
  }
  return text.toLowerCase();
}

/** What a peer needs before it can fetch and verify a static swarm (the "metadata record" of RFC 7574 §8.4, with the content length always included). */
export interface SwarmMetadata {
  /** swarmIdOf(rootHash, contentLength, chunkSize), lowercase hex. */
  swarmId: string;
  /** Merkle root over the chunks (merkle.ts), 32 bytes. */
  rootHash: Uint8Array;
  /** Content length in bytes. */
  contentLength: number;
  /** Chunk size in bytes (a power of two, 1 KiB..1 MiB). */
  chunkSize: number;
  /** chunkCountOf(contentLength, chunkSize). */
  chunkCount: number;
  /** Its data may travel only over tls (privacy, seed §4.6.1): committed to by the ID. */
  tlsOnly?: boolean;
}

/** The metadata of a swarm with this root and geometry. */
export function swarmMetadataOf(rootHash: Uint8Array, contentLength: number, chunkSize: number, tlsOnly = false): SwarmMetadata {
  const swarmId = swarmIdOf(rootHash, contentLength, chunkSize, tlsOnly);
  return { swarmId, rootHash: Uint8Array.from(rootHash), contentLength, chunkSize, chunkCount: chunkCountOf(contentLength, chunkSize), ...(tlsOnly ? { tlsOnly } : {}) };
}

/**
 * The metadata of swarm `swarmId` from a root and geometry received or read: whether it is
 * tls-only follows from which form the ID commits to. Invalid_Message (`swarm_id_mismatch`) when
 * the ID commits to neither, or for bad geometry.
 */
export function metadataOfSwarm(swarmId: string, rootHash: Uint8Array, contentLength: number, chunkSize: number): SwarmMetadata {
  const id = parseSwarmId(swarmId);
  for (const tlsOnly of [false, true]) {
    const metadata = swarmMetadataOf(rootHash, contentLength, chunkSize, tlsOnly);
    if (metadata.swarmId === id) return metadata;
  }
  throw invalidMessage('the swarm ID does not match the root hash, length and chunk size', 'swarm_id_mismatch');
}

/**
 * Checks metadata from an untrusted source: the geometry is valid, the chunk count follows from it
 * and the ID (either case) is the one the root and geometry give. Invalid_Message otherwise.
 */
export function verifySwarmMetadata(meta: SwarmMetadata): void {
  const id = parseSwarmId(meta.swarmId);
  if (!(meta.rootHash instanceof Uint8Array)) throw invalidMessage('the root hash must be bytes', 'bad_hash_length');
  const expected = swarmIdOf(meta.rootHash, meta.contentLength, meta.chunkSize, meta.tlsOnly);
  if (meta.chunkCount !== chunkCountOf(meta.contentLength, meta.chunkSize)) throw invalidMessage(`chunk count ${meta.chunkCount} does not match the length and chunk size`, 'bad_chunk_count');
  if (id !== expected) throw invalidMessage('the swarm ID does not match the root hash, length and chunk size', 'swarm_id_mismatch');
}
