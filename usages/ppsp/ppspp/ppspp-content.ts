/**
 * A file served over PPSPP: its hash tree by the swarm's hash function and chunk size, and
 * positioned reads of its chunks. libswift's defaults are SHA-1 over 1 KiB chunks (RFC 7574 §7.6
 * names SHA-1 the default and recommends 1 KiB chunks, so a chunk and its hashes fit one Ethernet frame);
 * the root hash is the swarm's ID.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { invalidMessage } from '../../../overlay/index.js';
import { hashChunksOfFile } from '../content/chunker.js';
import type { TreeHash } from '../content/merkle.js';
import { SeedTree } from './ppspp-hash-tree.js';
import { MERKLE_HASH_FUNCTION, type MerkleHashFunction } from './ppspp-options.js';

/** libswift's chunk size, and RFC 7574's recommendation. */
export const PPSPP_DEFAULT_CHUNK_SIZE = 1024;
/** Largest chunk: a chunk and its hashes go in one UDP datagram. */
export const MAX_PPSPP_CHUNK_SIZE = 65_000;
/** Chunks a served file may have at most (64 GiB at 1 KiB): the tree is held in memory. */
export const MAX_PPSPP_CHUNKS = 2 ** 26;

export function treeHashOf(name: MerkleHashFunction): TreeHash {
  return { algorithm: name, bytes: MERKLE_HASH_FUNCTION[name].bytes };
}

/** The hash function whose output is as long as a root hash (SHA-1 for 20 bytes, SHA-256 for 32). */
export function treeHashOfRoot(root: Uint8Array): TreeHash | undefined {
  const name = (Object.keys(MERKLE_HASH_FUNCTION) as MerkleHashFunction[]).find((n) => MERKLE_HASH_FUNCTION[n].bytes === root.length);
  return name === undefined ? undefined : treeHashOf(name);
}

/** Bytes read from the file at once, and blocks kept: 1 MiB of cache per served file. */
const READ_BLOCK_BYTES = 256 * 1024;
const CACHED_BLOCKS = 4;

export class PpsppContent {
  private readonly blocks = new Map<number, Promise<Buffer>>();

  private constructor(
    readonly path: string,
    readonly tree: SeedTree,
    readonly chunkSize: number,
    readonly contentLength: number,
    private readonly file: FileHandle,
  ) {}

  /** Hashes the file at `path` and keeps it open for reads. */
  static async open(path: string, options: { chunkSize?: number; hash?: MerkleHashFunction; onProgress?: (done: number, total: number) => void } = {}): Promise<PpsppContent> {
    const chunkSize = options.chunkSize ?? PPSPP_DEFAULT_CHUNK_SIZE;
    if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > MAX_PPSPP_CHUNK_SIZE) throw invalidMessage(`a PPSPP chunk size of ${chunkSize} bytes does not fit a datagram`, 'bad_chunk_size');
    const hash = treeHashOf(options.hash ?? 'sha1');
    const { size } = await stat(path);
    const chunkCount = Math.ceil(size / chunkSize);
    if (chunkCount > MAX_PPSPP_CHUNKS) throw invalidMessage(`${path} needs ${chunkCount} chunks of ${chunkSize} bytes; at most ${MAX_PPSPP_CHUNKS} are served`, 'too_large');
    const leaves = await hashChunksOfFile(path, size, chunkSize, hash.algorithm, options.onProgress);
    const file = await open(path, 'r');
    return new PpsppContent(path, new SeedTree(hash, leaves, chunkCount), chunkSize, size, file);
  }

  get root(): Buffer {
    return this.tree.root;
  }

  get chunkCount(): number {
    return this.tree.chunkCount;
  }

  /**
   * Chunk `index`'s bytes (the last may be short). Chunks are read a block at a time and the last
   * few blocks kept: one datagram per chunk would otherwise cost one file read per kilobyte.
   */
  async read(index: number): Promise<Buffer> {
    const perBlock = Math.max(1, Math.floor(READ_BLOCK_BYTES / this.chunkSize));
    const block = Math.floor(index / perBlock);
    const bytes = await this.block(block, perBlock);
    const at = (index - block * perBlock) * this.chunkSize;
    return bytes.subarray(at, Math.min(at + this.chunkSize, bytes.length));
  }

  private block(block: number, perBlock: number): Promise<Buffer> {
    const cached = this.blocks.get(block);
    if (cached) return cached;
    const at = block * perBlock * this.chunkSize;
    const length = Math.min(perBlock * this.chunkSize, this.contentLength - at);
    const read = (async () => {
      const buffer = Buffer.allocUnsafe(length);
      const { bytesRead } = await this.file.read(buffer, 0, length, at);
      if (bytesRead !== length) throw new Error(`${this.path} is shorter than when it was hashed`);
      return buffer;
    })();
    this.blocks.set(block, read);
    // A failed read is not kept: the next request reads again.
    read.catch(() => this.blocks.delete(block));
    if (this.blocks.size > CACHED_BLOCKS) this.blocks.delete(this.blocks.keys().next().value!);
    return read;
  }

  close(): Promise<void> {
    return this.file.close();
  }
}
