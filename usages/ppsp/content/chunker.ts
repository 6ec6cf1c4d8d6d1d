/**
 * Hashes a file into a static swarm (RFC 7574 §5.1): one streaming pass, constant memory apart from
 * the 32-byte leaf hash kept per chunk. The chunk geometry lives in swarm-id.ts, which the swarm ID
 * commits to, and is re-exported here for callers that cut files.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { invalidMessage } from '../../../overlay/index.js';
import { rootOfLeafHashes, type TreeHash } from './merkle.js';
import { chunkCountOf, DEFAULT_CHUNK_SIZE, swarmMetadataOf, type SwarmMetadata } from './swarm-id.js';

export { chunkCountOf, chunkRange, DEFAULT_CHUNK_SIZE } from './swarm-id.js';

/** Bytes per read from disk: independent of the chunk size, so reads neither split nor copy chunks. */
const READ_BYTES = 256 * 1024;

/** A hashed file: its swarm metadata and the packed leaf hashes (chunk i at bytes [32i, 32i+32)). */
export interface HashedFile {
  metadata: SwarmMetadata;
  leafHashes: Uint8Array;
}

/**
 * Reads the file at `path` once, cutting it into `chunkSize`-byte chunks (default 16 KiB; the last
 * may be short) and hashing each into the Merkle tree. `onProgress(hashedBytes, totalBytes)` is
 * called after each read. Invalid_Message for a bad chunk size, a file needing more than
 * MAX_CHUNK_COUNT chunks, or a file whose size changed while it was read.
 */
export async function hashFile(
  path: string,
  chunkSize: number = DEFAULT_CHUNK_SIZE,
  onProgress?: (hashedBytes: number, totalBytes: number) => void,
  signal?: AbortSignal,
): Promise<HashedFile> {
  const { size } = await stat(path);
  chunkCountOf(size, chunkSize); // refuse bad geometry before reading anything
  const leafHashes = await hashChunksOfFile(path, size, chunkSize, 'sha256', onProgress, signal);
  return { metadata: swarmMetadataOf(rootOfLeafHashes(leafHashes), size, chunkSize), leafHashes };
}

/**
 * The packed leaf hashes of the file at `path`, expected to hold `size` bytes, cut into
 * `chunkSize`-byte chunks (the last may be short), by `algorithm`, in one streaming pass.
 * Invalid_Message if the file's size is not `size` by the end of the read.
 */
export async function hashChunksOfFile(
  path: string,
  size: number,
  chunkSize: number,
  algorithm: TreeHash['algorithm'],
  onProgress?: (hashedBytes: number, totalBytes: number) => void,
  signal?: AbortSignal,
): Promise<Buffer> {
  const hashes: Buffer[] = [];
  let chunkHash: Hash | undefined;
  let filled = 0; // bytes of the current chunk hashed so far
  let total = 0;
  for await (const piece of createReadStream(path, { highWaterMark: READ_BYTES, signal }) as AsyncIterable<Buffer>) {
    // A read may end inside a chunk and start the next: feed each chunk's hash its slices in turn.
    for (let at = 0; at < piece.length; ) {
      const take = Math.min(chunkSize - filled, piece.length - at);
      (chunkHash ??= createHash(algorithm)).update(piece.subarray(at, at + take));
      at += take;
      filled += take;
      if (filled === chunkSize) {
        hashes.push(chunkHash.digest());
        chunkHash = undefined;
        filled = 0;
      }
    }
    total += piece.length;
    if (total > size) break;
    onProgress?.(total, size);
  }
  if (chunkHash) hashes.push(chunkHash.digest());
  if (total !== size) throw invalidMessage(`${path} changed size while it was hashed (${size} then ${total} bytes)`, 'file_changed');
  return Buffer.concat(hashes);
}
