/**
 * The SHA-256 Merkle hash tree over a static swarm's chunks (RFC 7574 §5.1–§5.3). Pure: no I/O.
 *
 * Shape (RFC 7574 §5.1): leaf i is SHA-256 of chunk i's bytes; the base is widened to the next power
 * of two, 2^h ≥ chunkCount, and every leaf past the last chunk holds the RFC's "empty hash value of
 * all zeros" (32 zero bytes). An interior node is SHA-256(left ‖ right); a node whose two children
 * are both empty is itself all zeros rather than a hash (§5.1: "to save computation"), so every
 * subtree lying wholly past the end of the content is 32 zero bytes at any height. A node with real
 * content on its left and an empty right is SHA-256(left ‖ 0^32). Note the empty hash is *not*
 * SHA-256 of a zero-length chunk (e3b0c442…): it marks a leaf with no chunk at all, so 0-byte
 * content has no chunks and its root is 32 zero bytes.
 *
 * There is no leaf/interior domain separation (the RFC has none), so a 64-byte chunk could pose as
 * an interior node; a peer therefore checks a list of exactly as many leaf hashes as the swarm ID
 * commits chunks to (swarm-id.ts, leaf-hashes.ts), and each chunk against its own leaf hash.
 *
 * Only the leaves and the root are ever needed, so the interior of the tree is never stored:
 * MerkleBuilder and rootOfLeafHashes compute the root in O(log n) memory.
 */
import { createHash } from 'node:crypto';
import { invalidMessage } from '../../../overlay/index.js';

/** Bytes in a SHA-256 hash: every leaf, interior node, root and uncle hash. */
export const HASH_BYTES = 32;

const EMPTY = Buffer.alloc(HASH_BYTES);

/** The leaf hash of one chunk: SHA-256 of its bytes (RFC 7574 §5.1). */
export function hashChunk(chunk: Uint8Array): Buffer {
  return createHash('sha256').update(chunk).digest();
}

function hashPair(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(left).update(right).digest();
}

/**
 * The tree height h for `chunkCount` chunks: the smallest h with 2^h ≥ chunkCount (0 for 0 or 1
 * chunk). It is also the number of uncle hashes a full proof would carry (RFC 7574 §5.2).
 */
export function treeHeight(chunkCount: number): number {
  if (!Number.isSafeInteger(chunkCount) || chunkCount < 0) throw invalidMessage(`chunk count ${chunkCount} is not a non-negative integer`, 'bad_chunk_count');
  let h = 0;
  while (2 ** h < chunkCount) h++;
  return h;
}

/**
 * Builds the root incrementally from a stream of chunks (or leaf hashes) in O(log n) memory: it
 * keeps only the roots of the complete subtrees seen so far (one per 1-bit of the count, the RFC's
 * "peaks", §5.6.1), plus the packed leaf hashes if `keepLeafHashes` (default true, 32 B per chunk).
 */
export class MerkleBuilder {
  /** Roots of complete subtrees, leftmost (highest) first. */
  private readonly peaks: { level: number; hash: Buffer }[] = [];
  private leaves: Buffer;
  private count = 0;

  constructor(private readonly options: { keepLeafHashes?: boolean } = {}) {
    this.leaves = Buffer.alloc(this.keepsLeaves ? 64 * HASH_BYTES : 0);
  }

  private get keepsLeaves(): boolean {
    return this.options.keepLeafHashes ?? true;
  }

  /** Chunks added so far. */
  get chunkCount(): number {
    return this.count;
  }

  /** Adds the next chunk (any length; only the last chunk of a swarm should be short). */
  addChunk(chunk: Uint8Array): void {
    this.addLeafHash(hashChunk(chunk));
  }

  /** Adds the next chunk by its 32-byte leaf hash (e.g. from an incremental SHA-256). */
  addLeafHash(leafHash: Uint8Array): void {
    if (leafHash.length !== HASH_BYTES) throw invalidMessage(`a leaf hash must be ${HASH_BYTES} bytes`, 'bad_hash_length');
    if (this.keepsLeaves) {
      if ((this.count + 1) * HASH_BYTES > this.leaves.length) {
        const grown = Buffer.alloc(this.leaves.length * 2);
        this.leaves.copy(grown);
        this.leaves = grown;
      }
      this.leaves.set(leafHash, this.count * HASH_BYTES);
    }
    this.count++;
    // A binary counter: two complete subtrees of equal height merge into their parent.
    let node: { level: number; hash: Buffer } = { level: 0, hash: Buffer.from(leafHash) };
    for (let top = this.peaks.at(-1); top && top.level === node.level; top = this.peaks.at(-1)) {
      this.peaks.pop();
      node = { level: node.level + 1, hash: hashPair(top.hash, node.hash) };
    }
    this.peaks.push(node);
  }

  /**
   * The root hash of the chunks added so far (32 zero bytes for none), a copy, without ending the build.
   * Each peak but the leftmost is the left child of its parent on the way up, with empty padding on
   * its right, until it reaches the height of the next peak to its left, whose right child it is.
   */
  rootHash(): Buffer {
    if (this.count === 0) return Buffer.from(EMPTY);
    let i = this.peaks.length - 1;
    let { level, hash } = this.peaks[i]!;
    for (i--; i >= 0; i--) {
      const left = this.peaks[i]!;
      for (; level < left.level; level++) hash = hashPair(hash, EMPTY);
      hash = hashPair(left.hash, hash);
      level = left.level + 1;
    }
    for (const h = treeHeight(this.count); level < h; level++) hash = hashPair(hash, EMPTY);
    // With a power-of-two count the root is the only peak itself: a copy, so the build stays intact.
    return Buffer.from(hash);
  }

  /** The packed leaf hashes so far (chunk i at bytes [32i, 32i+32)); a copy. */
  leafHashes(): Uint8Array {
    if (!this.keepsLeaves) throw new Error('MerkleBuilder was created with keepLeafHashes: false');
    return Uint8Array.from(this.leaves.subarray(0, this.count * HASH_BYTES));
  }
}

/**
 * The root hash over packed 32-byte leaf hashes (chunk i at bytes [32i, 32i+32), as from
 * MerkleBuilder.leafHashes or hashFile), in O(log n) memory: 32 zero bytes for none.
 * ReloadError(Invalid_Message, `bad_hash_length`) if the length is not a multiple of 32.
 */
export function rootOfLeafHashes(packed: Uint8Array): Buffer {
  if (packed.length % HASH_BYTES !== 0) throw invalidMessage(`packed leaf hashes must be a multiple of ${HASH_BYTES} bytes`, 'bad_hash_length');
  const builder = new MerkleBuilder({ keepLeafHashes: false });
  for (let at = 0; at < packed.length; at += HASH_BYTES) builder.addLeafHash(packed.subarray(at, at + HASH_BYTES));
  return builder.rootHash();
}
