/**
 * Proofs for ranges of leaf hashes (RFC 7574 §5.3-§5.4): the leaves of an aligned subtree plus the
 * uncle hashes on its way to the root, so a peer checks any range of the list against the swarm's
 * root without the rest of it. The tree's shape is merkle.ts's: leaves past the last chunk are 32
 * zero bytes, and a node whose children are both zero is zero.
 *
 * A range first..last is a subtree of height k: 2^k is the smallest power of two that holds it,
 * `first` is a multiple of 2^k, and the range fills the subtree up to the end of the content (the
 * last subtree may run past it). Its proof has treeHeight - k uncles, lowest first.
 */
import { createHash } from 'node:crypto';
import { invalidMessage } from '../../../overlay/index.js';
import { HASH_BYTES, SHA256_TREE, treeHeight, type TreeHash } from './merkle.js';

const ZERO = Buffer.alloc(HASH_BYTES);


function isZero(h: Uint8Array): boolean {
  for (const b of h) if (b !== 0) return false;
  return true;
}

/** A parent node: zero over two zero children, else H(left ‖ right) (SHA-256 unless told). */
function parent(left: Uint8Array, right: Uint8Array, hash: TreeHash = SHA256_TREE): Buffer {
  if (isZero(left) && isZero(right)) return Buffer.alloc(hash.bytes);
  return createHash(hash.algorithm).update(left).update(right).digest();
}

/**
 * The height k of the subtree holding exactly chunks first..last of `chunkCount`. Invalid_Message
 * (`unaligned_hashes`) for a range that is not one.
 */
export function subtreeHeight(first: number, last: number, chunkCount: number): number {
  const length = last - first + 1;
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last) || first < 0 || length < 1 || last >= chunkCount) {
    throw invalidMessage(`leaf range ${first}..${last} is outside the swarm's ${chunkCount} chunks`, 'unaligned_hashes');
  }
  let k = 0;
  while (2 ** k < length) k++;
  const span = 2 ** k;
  if (first % span !== 0 || (last < chunkCount - 1 && length !== span)) {
    throw invalidMessage(`leaf range ${first}..${last} is not a whole subtree (aligned to a power of two)`, 'unaligned_hashes');
  }
  return k;
}

/** The root of the subtree of height k whose leaves are `packed` (zero past its end). */
function subtreeRoot(packed: Uint8Array, k: number): Buffer {
  let level: Buffer[] = [];
  for (let i = 0; i < 2 ** k; i++) level.push(i * HASH_BYTES < packed.length ? Buffer.from(packed.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES)) : ZERO);
  while (level.length > 1) {
    const up: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) up.push(parent(level[i]!, level[i + 1]!));
    level = up;
  }
  return level[0]!;
}

/**
 * Whether the leaves `packed` of chunks first.. (an aligned subtree) and `uncles` lead to `root`.
 * Invalid_Message for a range that is not a subtree or the wrong number of uncles.
 */
export function verifySubtree(root: Uint8Array, chunkCount: number, first: number, packed: Uint8Array, uncles: Uint8Array): boolean {
  const last = first + packed.length / HASH_BYTES - 1;
  const k = subtreeHeight(first, last, chunkCount);
  const height = treeHeight(chunkCount);
  if (uncles.length !== (height - k) * HASH_BYTES) throw invalidMessage(`${uncles.length / HASH_BYTES} uncle hashes for a subtree ${height - k} levels below the root`, 'bad_hashes');
  let node = subtreeRoot(packed, k);
  for (let level = k; level < height; level++) {
    const uncle = uncles.subarray((level - k) * HASH_BYTES, (level - k + 1) * HASH_BYTES);
    node = ((first >> level) & 1) === 0 ? parent(node, uncle) : parent(uncle, node);
  }
  return node.equals(root);
}

/**
 * Every level of a complete tree, built once from its leaves, to answer proofs: about as much
 * memory again as the leaves (16 MiB for a 4 GiB file at 16 KiB chunks, leaves included). The
 * shape is the one above with any hash function: zero past the content, zero over two zeros.
 */
export class MerkleLevels {
  /** levels[l] holds the nodes of level l up to the last one over content; the rest are zero. */
  private readonly levels: Buffer[];
  private readonly zero: Buffer;

  constructor(packed: Uint8Array, chunkCount: number, private readonly hash: TreeHash = SHA256_TREE) {
    const size = hash.bytes;
    this.zero = Buffer.alloc(size);
    this.levels = [Buffer.from(packed.buffer, packed.byteOffset, chunkCount * size)];
    for (let l = 1, n = chunkCount; l <= treeHeight(chunkCount); l++) {
      const below = this.levels[l - 1]!;
      n = Math.ceil(n / 2);
      const level = Buffer.alloc(n * size);
      for (let i = 0; i < n; i++) {
        const left = below.subarray(2 * i * size, (2 * i + 1) * size);
        const right = (2 * i + 1) * size < below.length ? below.subarray((2 * i + 1) * size, (2 * i + 2) * size) : this.zero;
        parent(left, right, hash).copy(level, i * size);
      }
      this.levels.push(level);
    }
  }

  /** The root: the top level's only node (zero for no content). */
  root(): Buffer {
    return this.node(this.levels.length - 1, 0);
  }

  /** The uncle hashes of the subtree holding chunks first..last, lowest first (see subtreeHeight). */
  uncles(first: number, last: number, chunkCount: number): Buffer {
    const k = subtreeHeight(first, last, chunkCount);
    const out: Buffer[] = [];
    for (let level = k; level < this.levels.length - 1; level++) out.push(this.node(level, (first >> level) ^ 1));
    return Buffer.concat(out);
  }

  /** Node `index` of `level` (leaves are level 0): zero past the content. */
  node(level: number, index: number): Buffer {
    const nodes = this.levels[level]!;
    const size = this.hash.bytes;
    return (index + 1) * size <= nodes.length ? nodes.subarray(index * size, (index + 1) * size) : this.zero;
  }
}
