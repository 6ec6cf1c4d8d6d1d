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

/** A Merkle tree's hash function: RFC 7574 §7.6's choice (SHA-256 for our swarms, SHA-1 for libswift's). */
export interface TreeHash {
  /** A node:crypto digest name. */
  algorithm: 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';
  /** Bytes of one hash. */
  bytes: number;
}

export const SHA256_TREE: TreeHash = { algorithm: 'sha256', bytes: HASH_BYTES };

/**
 * The root over a tree's peaks, the roots of its complete subtrees, largest (leftmost) first
 * (RFC 7574 §5.6.1; zero for none). Each peak but the first climbs with empty right siblings to
 * the layer below its left neighbour, whose right child it then is, and the whole climbs on with
 * empty right siblings to the tree's full height.
 */
export function rootOfPeaks(hash: TreeHash, peaks: readonly { layer: number; hash: Uint8Array }[]): Buffer {
  const zero = Buffer.alloc(hash.bytes);
  if (peaks.length === 0) return zero;
  const pair = (left: Uint8Array, right: Uint8Array) => createHash(hash.algorithm).update(left).update(right).digest();
  let { layer, hash: node } = peaks.at(-1)!;
  for (let i = peaks.length - 2; i >= 0; i--) {
    const left = peaks[i]!;
    for (; layer < left.layer; layer++) node = pair(node, zero);
    node = pair(left.hash, node);
    layer = left.layer + 1;
  }
  const count = peaks.reduce((sum, p) => sum + 2 ** p.layer, 0);
  for (const height = treeHeight(count); layer < height; layer++) node = pair(node, zero);
  // With one peak of the full height the root is that peak itself: a copy, so the caller's stays intact.
  return Buffer.from(node);
}

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

  /** The root hash of the chunks added so far (32 zero bytes for none), a copy, without ending the build. */
  rootHash(): Buffer {
    return rootOfPeaks(SHA256_TREE, this.peaks.map((p) => ({ layer: p.level, hash: p.hash })));
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
