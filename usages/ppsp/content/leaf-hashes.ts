/**
 * The leaf hashes of a static swarm, 32 B per chunk: once a peer holds a chunk's leaf hash checked
 * against the root, the chunk is verified by its own SHA-256 alone (RFC 7574 §5.3 verifies "up to an
 * already trusted node", and a sender omits the hashes its receiver has). DATA therefore carries no
 * uncle hashes, and a chunk costs one hash to check instead of one per tree level.
 *
 * A leecher does not wait for the whole list: it asks for the leaf hashes of an aligned subtree
 * (HASHES_REQUEST), gets them with the uncle hashes up to the root (HASHES), checks them on their
 * own (merkle-proof.ts) and may request those chunks at once; the ranges a player reads come first
 * and the rest follow (leaf-hash-fetch.ts), so the time to the first byte does not grow with the
 * file. A peer whose range does not lead to the root sent a lie and is dropped.
 */
import { timingSafeEqual } from 'node:crypto';
import { invalidMessage } from '../../../overlay/index.js';
import { HASH_BYTES, hashChunk, rootOfLeafHashes } from './merkle.js';
import { MerkleLevels, verifySubtree } from './merkle-proof.js';
import type { SwarmMetadata } from './swarm-id.js';

/** Leaf hashes in one HASHES frame at most: 16,384 × 32 B = 512 KiB, well inside a 1 MiB frame. */
export const DEFAULT_HASHES_PER_FRAME = 16_384;

/** CBOR overhead of a HASHES frame beyond its hashes: type, first (u32), two byte-string heads, and up to 32 uncles. */
const HASHES_FRAME_OVERHEAD = 32 + 32 * HASH_BYTES;

/** Leaf hashes per HASHES frame for frames of at most `maxFrameBytes`: a power of two (a whole subtree), at most DEFAULT_HASHES_PER_FRAME. */
export function hashesPerFrame(maxFrameBytes: number): number {
  const fit = Math.floor((maxFrameBytes - HASHES_FRAME_OVERHEAD) / HASH_BYTES);
  if (fit < 1) throw new RangeError(`a frame of ${maxFrameBytes} bytes holds no leaf hash`);
  return Math.min(2 ** Math.floor(Math.log2(fit)), DEFAULT_HASHES_PER_FRAME);
}

/** A swarm's complete, verified leaf hashes: to check chunks, and to answer HASHES_REQUEST with proofs. */
export class LeafHashes {
  /** Built by prepareProofs, or at the first proof asked of us. */
  private levels: MerkleLevels | undefined;

  private constructor(
    /** Packed leaf hashes, 32 B per chunk. */
    readonly packed: Uint8Array,
  ) {}

  /**
   * Accepts `packed` only if it has one hash per chunk of `metadata` and rebuilds its root.
   * ReloadError(Invalid_Message, `bad_leaf_hashes`) otherwise.
   */
  static verified(metadata: SwarmMetadata, packed: Uint8Array): LeafHashes {
    if (packed.length !== metadata.chunkCount * HASH_BYTES) {
      throw invalidMessage(`${packed.length / HASH_BYTES} leaf hashes for ${metadata.chunkCount} chunks`, 'bad_leaf_hashes');
    }
    if (!rootOfLeafHashes(packed).equals(metadata.rootHash)) throw invalidMessage('the leaf hashes do not rebuild the swarm root', 'bad_leaf_hashes');
    return new LeafHashes(packed);
  }

  /** Whether `chunk` is chunk `index` (in range; its length is the caller's to check against the geometry). */
  verifyChunk(index: number, chunk: Uint8Array): boolean {
    return timingSafeEqual(hashChunk(chunk), this.slice(index, index));
  }

  /** A view of the packed hashes of chunks first..last (inclusive; the caller checked the range). */
  slice(first: number, last: number): Uint8Array {
    return this.packed.subarray(first * HASH_BYTES, (last + 1) * HASH_BYTES);
  }

  /**
   * Builds the tree's levels now (O(n) hashing), so the first peer to ask for a proof does not wait
   * for it: a player's first byte waits on that answer.
   */
  prepareProofs(): void {
    this.levels ??= new MerkleLevels(this.packed, this.packed.length / HASH_BYTES);
  }

  /** The uncle hashes proving chunks first..last (an aligned subtree; Invalid_Message if not). */
  uncles(first: number, last: number): Uint8Array {
    this.prepareProofs();
    return this.levels!.uncles(first, last, this.packed.length / HASH_BYTES);
  }
}

/** The leaf hashes a leecher has checked so far, range by range. */
export class PartialLeafHashes {
  private readonly packed: Uint8Array;
  private readonly known: Uint8Array;
  private knownCount = 0;

  constructor(readonly metadata: SwarmMetadata) {
    this.packed = new Uint8Array(metadata.chunkCount * HASH_BYTES);
    this.known = new Uint8Array(metadata.chunkCount);
  }

  get complete(): boolean {
    return this.knownCount === this.metadata.chunkCount;
  }

  /** Whether chunk `index`'s leaf hash is known. */
  has(index: number): boolean {
    return this.known[index] === 1;
  }

  /**
   * Takes the leaf hashes of chunks first.. with their uncle hashes if they lead to the root;
   * returns the range. Invalid_Message (`unaligned_hashes`, `bad_hashes`) otherwise.
   */
  add(first: number, hashes: Uint8Array, uncles: Uint8Array): { first: number; last: number } {
    const { rootHash, chunkCount } = this.metadata;
    if (!verifySubtree(rootHash, chunkCount, first, hashes, uncles)) throw invalidMessage(`leaf hashes from chunk ${first} do not lead to the swarm root`, 'bad_hashes');
    const last = first + hashes.length / HASH_BYTES - 1;
    this.packed.set(hashes, first * HASH_BYTES);
    for (let c = first; c <= last; c++) {
      if (this.known[c]) continue;
      this.known[c] = 1;
      this.knownCount++;
    }
    return { first, last };
  }

  /** Whether `chunk` is chunk `index` by its leaf hash; false while that hash is unknown. */
  verifyChunk(index: number, chunk: Uint8Array): boolean {
    return this.has(index) && timingSafeEqual(hashChunk(chunk), this.packed.subarray(index * HASH_BYTES, (index + 1) * HASH_BYTES));
  }

  /** The whole list, once complete (it is checked against the root once more). */
  toLeafHashes(): LeafHashes {
    return LeafHashes.verified(this.metadata, this.packed);
  }
}
