/**
 * The leaf hashes of a static swarm, 32 B per chunk, shared between peers: once a peer holds the
 * whole list checked against the root, every leaf is a trusted node of the tree, so a chunk is
 * verified by its own SHA-256 alone (RFC 7574 §5.3 verifies "up to an already trusted node", and a
 * sender omits the hashes its receiver has). DATA therefore carries no uncle hashes, and a chunk
 * costs one hash to check instead of one per tree level.
 *
 * A leecher asks one peer for all of them with HASHES_REQUEST, in ranges of at most
 * `hashesPerFrame` so no answer outgrows a frame, collects the HASHES answers in a
 * LeafHashCollector and accepts the list only if the tree it rebuilds has the swarm's root
 * (`verifiedLeafHashes`). A peer whose list does not rebuild the root sent a lie and is dropped.
 */
import { invalidMessage, ReloadError, ErrorCode } from '../../../overlay/index.js';
import { timingSafeEqual } from 'node:crypto';
import { HASH_BYTES, hashChunk, rootOfLeafHashes } from './merkle.js';
import type { SwarmMetadata } from './swarm-id.js';

/** Leaf hashes in one HASHES frame at most: 16,384 × 32 B = 512 KiB, well inside a 1 MiB frame. */
export const DEFAULT_HASHES_PER_FRAME = 16_384;

/** CBOR overhead of a HASHES frame beyond its hashes: type, first (u32) and a byte-string head. */
const HASHES_FRAME_OVERHEAD = 16;

/** Leaf hashes per HASHES frame for frames of at most `maxFrameBytes`, capped at DEFAULT_HASHES_PER_FRAME. */
export function hashesPerFrame(maxFrameBytes: number): number {
  const fit = Math.floor((maxFrameBytes - HASHES_FRAME_OVERHEAD) / HASH_BYTES);
  if (fit < 1) throw new RangeError(`a frame of ${maxFrameBytes} bytes holds no leaf hash`);
  return Math.min(fit, DEFAULT_HASHES_PER_FRAME);
}

/** The HASHES_REQUEST ranges (inclusive) covering chunks 0..chunkCount-1, `perFrame` at a time. */
export function hashRanges(chunkCount: number, perFrame: number): { first: number; last: number }[] {
  const out: { first: number; last: number }[] = [];
  for (let first = 0; first < chunkCount; first += perFrame) out.push({ first, last: Math.min(chunkCount, first + perFrame) - 1 });
  return out;
}

/** A swarm's verified leaf hashes: to check chunks, and to answer HASHES_REQUEST. */
export class LeafHashes {
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
}

/**
 * Collects HASHES answers from one peer: each must continue exactly where the last ended (the
 * requests are sent in order over an ordered channel), and nothing may run past the swarm.
 */
export class LeafHashCollector {
  private readonly packed: Uint8Array;
  private filled = 0;

  constructor(readonly metadata: SwarmMetadata) {
    this.packed = new Uint8Array(metadata.chunkCount * HASH_BYTES);
  }

  /** Chunks whose leaf hash has arrived. */
  get received(): number {
    return this.filled;
  }

  get complete(): boolean {
    return this.filled === this.metadata.chunkCount;
  }

  /**
   * Adds the hashes of chunks first..first+n-1 (n = hashes.length / 32). Invalid_Message
   * (`unexpected_hashes`) if they do not start where the previous answer ended or run past the end.
   */
  add(first: number, hashes: Uint8Array): void {
    const n = hashes.length / HASH_BYTES;
    if (!Number.isInteger(n) || n < 1) throw invalidMessage('leaf hashes must be a non-empty multiple of 32 bytes', 'unexpected_hashes');
    if (first !== this.filled || first + n > this.metadata.chunkCount) {
      throw invalidMessage(`leaf hashes ${first}..${first + n - 1} do not follow ${this.filled} within ${this.metadata.chunkCount}`, 'unexpected_hashes');
    }
    this.packed.set(hashes, first * HASH_BYTES);
    this.filled += n;
  }

  /** The verified list (LeafHashes.verified); Not_Found (`incomplete`) before every hash arrived. */
  finish(): LeafHashes {
    if (!this.complete) throw new ReloadError(ErrorCode.Not_Found, `${this.metadata.chunkCount - this.filled} leaf hashes missing`, 'incomplete');
    return LeafHashes.verified(this.metadata, this.packed);
  }
}
