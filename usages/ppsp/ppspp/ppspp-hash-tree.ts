/**
 * The Merkle hash tree as PPSPP sends it (RFC 7574 §5): a node is (layer, offset), leaves at layer
 * 0; a swarm's root hash is its ID. The seeder holds the whole tree (SeedTree); a leecher that
 * knows only the root learns the chunk count from the peak hashes (§5.6) and checks each chunk by
 * the uncle hashes sent before it, up to a node it already trusts (ChunkVerifier).
 *
 * The shape is merkle-proof.ts's with the swarm's hash function: leaves past the content are the
 * all-zero empty hash, a node over two empty children is empty too.
 */
import { createHash } from 'node:crypto';
import { invalidMessage } from '../../../overlay/index.js';
import { MerkleLevels } from '../content/merkle-proof.js';
import { rootOfPeaks, type TreeHash } from '../content/merkle.js';

export interface TreeNode {
  layer: number;
  /** Index among the nodes of its layer: chunks offset·2^layer .. (offset+1)·2^layer − 1. */
  offset: number;
}

export interface HashedNode extends TreeNode {
  hash: Uint8Array;
}

/** The peaks of `chunkCount` chunks (§5.6.1): one complete subtree per 1-bit, largest first. */
export function peaksOf(chunkCount: number): TreeNode[] {
  const peaks: TreeNode[] = [];
  let start = 0;
  for (let layer = Math.floor(Math.log2(Math.max(chunkCount, 1))) + 1; layer >= 0; layer--) {
    const span = 2 ** layer;
    if (chunkCount - start >= span) {
      peaks.push({ layer, offset: start / span });
      start += span;
    }
  }
  return peaks;
}

/** The first and last chunk under a node. */
export function chunksUnder(node: TreeNode): { first: number; last: number } {
  const span = 2 ** node.layer;
  return { first: node.offset * span, last: (node.offset + 1) * span - 1 };
}

function hashPair(hash: TreeHash, left: Uint8Array, right: Uint8Array): Buffer {
  return createHash(hash.algorithm).update(left).update(right).digest();
}

/** A complete tree, for the peer that serves the content. */
export class SeedTree {
  private readonly levels: MerkleLevels;
  readonly peaks: readonly HashedNode[];

  /** `leafHashes` packed, chunk i at [i·bytes, (i+1)·bytes). */
  constructor(readonly hash: TreeHash, leafHashes: Uint8Array, readonly chunkCount: number) {
    this.levels = new MerkleLevels(leafHashes, chunkCount, hash);
    this.peaks = peaksOf(chunkCount).map((p) => ({ ...p, hash: this.levels.node(p.layer, p.offset) }));
  }

  get root(): Buffer {
    return this.levels.root();
  }

  /** The hash of a node under a peak. */
  node(node: TreeNode): Buffer {
    return this.levels.node(node.layer, node.offset);
  }

  /**
   * The uncle hashes that check `chunk` against its peak, top-down (the order §5.3 sends them in).
   * With `trusts` (what the receiver already holds), the climb stops at the first node of the
   * chunk's path it trusts, and siblings it trusts are left out.
   */
  unclesOf(chunk: number, trusts: (node: TreeNode) => boolean = () => false): HashedNode[] {
    const peak = this.peakOf(chunk);
    const uncles: HashedNode[] = [];
    for (let layer = 0; layer < peak.layer && !trusts({ layer, offset: chunk >> layer }); layer++) {
      const offset = (chunk >> layer) ^ 1;
      if (!trusts({ layer, offset })) uncles.push({ layer, offset, hash: this.levels.node(layer, offset) });
    }
    return uncles.reverse();
  }

  /** The peak whose subtree holds `chunk`. */
  peakOf(chunk: number): TreeNode {
    const peak = this.peaks.find((p) => chunksUnder(p).last >= chunk);
    if (!peak || chunk < 0) throw invalidMessage(`chunk ${chunk} is outside the content's ${this.chunkCount} chunks`, 'out_of_range');
    return peak;
  }
}

/**
 * Sets of offered hashes a leecher checks as peaks at most. Offered hashes at many layers and
 * starts make the sets to try grow exponentially; a sender's peaks come before its uncles.
 */
const MAX_PEAK_SETS = 4096;

export type ChunkCheck = 'verified' | 'missing_hashes' | 'mismatch';

/** A node as a map key. */
export function nodeKey(layer: number, offset: number): string {
  return `${layer}/${offset}`;
}

/**
 * What a leecher trusts: the root, then the peaks once a set of offered hashes rebuilds the root,
 * then every node on the path of a chunk that checked out. Offered hashes (INTEGRITY) are kept,
 * a bounded number, until a chunk uses them; they are trusted only once a chunk checks out through them.
 */
export class ChunkVerifier {
  private readonly trusted = new Map<string, Uint8Array>();
  private readonly offered = new Map<string, HashedNode>();
  /** Known once the peaks are: the sum of their spans. */
  chunkCount: number | undefined;
  /** Sets of offered hashes checked against the root as peaks, so far. */
  private peakSetsTried = 0;

  constructor(
    readonly hash: TreeHash,
    readonly root: Uint8Array,
    private readonly maxOffered = 4096,
    /** Largest chunk count accepted from peaks: the content-size bound of the download. */
    private readonly maxChunks = 2 ** 31,
  ) {}

  /** An INTEGRITY hash: kept until a chunk's check uses it (the oldest go past `maxOffered`). */
  offer(node: HashedNode): void {
    if (node.hash.length !== this.hash.bytes) throw invalidMessage(`an INTEGRITY hash of ${node.hash.length} bytes in a ${this.hash.algorithm} swarm`, 'bad_hash_length');
    const k = nodeKey(node.layer, node.offset);
    if (this.trusted.has(k)) return;
    this.offered.delete(k);
    this.offered.set(k, { ...node, hash: Uint8Array.from(node.hash) });
    if (this.offered.size > this.maxOffered) this.offered.delete(this.offered.keys().next().value!);
    if (this.chunkCount === undefined && !this.gaveUp) this.findPeaks();
  }

  /** Checks `data` as chunk `index`; on success every node of its path is trusted from now on. */
  check(index: number, data: Uint8Array): ChunkCheck {
    if (this.chunkCount === undefined) return 'missing_hashes';
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.chunkCount) throw invalidMessage(`chunk ${index} is outside the content's ${this.chunkCount} chunks`, 'out_of_range');
    const path: HashedNode[] = [];
    let node: HashedNode = { layer: 0, offset: index, hash: createHash(this.hash.algorithm).update(data).digest() };
    for (;;) {
      const trusted = this.trusted.get(nodeKey(node.layer, node.offset));
      if (trusted) {
        if (!Buffer.from(trusted).equals(node.hash)) return 'mismatch';
        break;
      }
      const sibling = this.known(node.layer, node.offset ^ 1);
      if (!sibling) return 'missing_hashes';
      path.push(node, sibling);
      const left = node.offset % 2 === 0 ? node.hash : sibling.hash;
      const right = node.offset % 2 === 0 ? sibling.hash : node.hash;
      node = { layer: node.layer + 1, offset: node.offset >> 1, hash: hashPair(this.hash, left, right) };
    }
    for (const n of path) this.trust(n);
    return 'verified';
  }

  /**
   * The offered hashes were tried as peaks MAX_PEAK_SETS times without rebuilding the root: an
   * honest sender's peaks come first (§5.6.2) and are found at once, so its sender is lying.
   */
  get gaveUp(): boolean {
    return this.chunkCount === undefined && this.peakSetsTried > MAX_PEAK_SETS;
  }

  /** Whether a node's hash is trusted (a sender need not send it again). */
  trusts(node: TreeNode): boolean {
    return this.trusted.has(nodeKey(node.layer, node.offset));
  }

  private known(layer: number, offset: number): HashedNode | undefined {
    const k = nodeKey(layer, offset);
    const trusted = this.trusted.get(k);
    return trusted ? { layer, offset, hash: trusted } : this.offered.get(k);
  }

  private trust(node: HashedNode): void {
    const k = nodeKey(node.layer, node.offset);
    this.offered.delete(k);
    this.trusted.set(k, node.hash);
  }

  /**
   * Looks among the offered hashes for peaks that rebuild the root: left to right from chunk 0,
   * each a whole subtree strictly smaller than the one before (§5.6.1). Offered uncles also start
   * at such positions, so every choice is tried; there are at most log2 of the chunk count.
   */
  private findPeaks(): void {
    const byStart = new Map<number, HashedNode[]>();
    for (const n of this.offered.values()) {
      const start = chunksUnder(n).first;
      byStart.set(start, [...(byStart.get(start) ?? []), n]);
    }
    const search = (start: number, below: number, chosen: HashedNode[]): HashedNode[] | undefined => {
      if (chosen.length > 0) {
        if (++this.peakSetsTried > MAX_PEAK_SETS) return undefined;
        if (Buffer.from(rootOfPeaks(this.hash, chosen)).equals(this.root)) return chosen;
      }
      for (const n of byStart.get(start) ?? []) {
        if (n.layer >= below || start + 2 ** n.layer > this.maxChunks) continue;
        const found = search(start + 2 ** n.layer, n.layer, [...chosen, n]);
        if (found) return found;
      }
      return undefined;
    };
    const peaks = search(0, 64, []);
    if (!peaks) return;
    for (const p of peaks) this.trust(p);
    this.chunkCount = peaks.reduce((sum, p) => sum + 2 ** p.layer, 0);
  }
}
