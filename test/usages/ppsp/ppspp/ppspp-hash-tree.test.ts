import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { ChunkVerifier, peaksOf, SeedTree } from '../../../../usages/ppsp/ppspp/ppspp-hash-tree.js';
import { rootOfPeaks, type TreeHash } from '../../../../usages/ppsp/content/merkle.js';
import { Prng } from '../../../helpers/prng.js';

const SHA1: TreeHash = { algorithm: 'sha1', bytes: 20 };
const sha1 = (...parts: Uint8Array[]) => parts.reduce((h, p) => h.update(p), createHash('sha1')).digest();
const ZERO = Buffer.alloc(20);

/** RFC 7574 §5.1 read literally: a node wholly past the content is empty (zero), else it hashes its children. */
function referenceRoot(leaves: Buffer[]): Buffer {
  let height = 0;
  while (2 ** height < leaves.length) height++;
  const node = (k: number, j: number): Buffer => {
    if (j * 2 ** k >= leaves.length) return ZERO;
    if (k === 0) return leaves[j]!;
    return sha1(node(k - 1, 2 * j), node(k - 1, 2 * j + 1));
  };
  return leaves.length === 0 ? ZERO : node(height, 0);
}

function treeOf(chunks: Buffer[]): SeedTree {
  return new SeedTree(SHA1, Buffer.concat(chunks.map((c) => sha1(c))), chunks.length);
}

describe('PPSPP hash tree (RFC 7574 §5)', () => {
  const rng = new Prng(7574);
  const contents = Array.from({ length: 40 }, (_, n) => Array.from({ length: n + 1 }, () => Buffer.from(rng.bytes(1 + rng.int(64)))));

  it('peaks are one whole subtree per 1-bit of the chunk count, largest first', () => {
    expect(peaksOf(1)).to.deep.equal([{ layer: 0, offset: 0 }]);
    expect(peaksOf(5)).to.deep.equal([{ layer: 2, offset: 0 }, { layer: 0, offset: 4 }]);
    expect(peaksOf(7)).to.deep.equal([{ layer: 2, offset: 0 }, { layer: 1, offset: 2 }, { layer: 0, offset: 6 }]);
    expect(peaksOf(8)).to.deep.equal([{ layer: 3, offset: 0 }]);
    expect(peaksOf(0)).to.deep.equal([]);
  });

  it('the root, and the root rebuilt from the peaks, equal the literal reading of §5.1 with SHA-1', () => {
    for (const chunks of contents) {
      const tree = treeOf(chunks);
      const expected = referenceRoot(chunks.map((c) => sha1(c))).toString('hex');
      expect(tree.root.toString('hex'), `${chunks.length} chunks`).to.equal(expected);
      expect(rootOfPeaks(SHA1, tree.peaks).toString('hex'), `${chunks.length} chunks`).to.equal(expected);
    }
  });

  it('a leecher that knows only the root learns the chunk count from the peaks and checks every chunk by its uncles', () => {
    for (const chunks of contents) {
      const tree = treeOf(chunks);
      const verifier = new ChunkVerifier(SHA1, tree.root);
      // Uncles of chunk 0 start where peaks could: they are offered first, as decoys.
      for (const u of tree.unclesOf(0)) verifier.offer(u);
      if (chunks.length > 1) expect(verifier.chunkCount, 'uncles alone do not rebuild the root').to.equal(undefined);
      for (const p of tree.peaks) verifier.offer(p);
      expect(verifier.chunkCount, `${chunks.length} chunks`).to.equal(chunks.length);
      chunks.forEach((chunk, i) => {
        for (const u of tree.unclesOf(i)) verifier.offer(u);
        expect(verifier.check(i, chunk), `chunk ${i} of ${chunks.length}`).to.equal('verified');
      });
    }
  });

  it('refuses a chunk that does not match, and waits for hashes it does not have', () => {
    const chunks = contents[12]!;
    const tree = treeOf(chunks);
    const verifier = new ChunkVerifier(SHA1, tree.root);
    expect(verifier.check(0, chunks[0]!), 'before the peaks').to.equal('missing_hashes');
    for (const p of tree.peaks) verifier.offer(p);
    expect(verifier.check(3, chunks[3]!), 'no uncles yet').to.equal('missing_hashes');
    for (const u of tree.unclesOf(3)) verifier.offer(u);
    const forged = Buffer.from(chunks[3]!);
    forged[0]! ^= 1;
    expect(verifier.check(3, forged)).to.equal('mismatch');
    expect(verifier.check(3, chunks[3]!)).to.equal('verified');
    // Chunk 2 shares every uncle but its sibling leaf, which is chunk 3's own hash: now trusted.
    expect(verifier.check(2, chunks[2]!)).to.equal('verified');
    expect(verifier.check(2, chunks[1]!)).to.equal('mismatch');
    expect(() => verifier.check(13, chunks[0]!)).to.throw(/outside/);
  });

  it('gives up on a flood of hashes that could pose as peaks in exponentially many ways, and says so', () => {
    const tree = treeOf(contents[20]!);
    const verifier = new ChunkVerifier(SHA1, tree.root);
    const rng = new Prng(99);
    // A node at every layer a start allows, for every start below 2^10: 2^10 sets of peaks from 0.
    for (let start = 0; start < 1024; start++) {
      for (let layer = 0; layer <= 10 && start % 2 ** layer === 0; layer++) verifier.offer({ layer, offset: start / 2 ** layer, hash: Buffer.from(rng.bytes(20)) });
    }
    expect(verifier.chunkCount).to.equal(undefined);
    expect(verifier.gaveUp).to.equal(true);
    const honest = new ChunkVerifier(SHA1, tree.root);
    for (const p of tree.peaks) honest.offer(p);
    expect(honest.gaveUp).to.equal(false);
    expect(honest.chunkCount).to.equal(21);
  });

  it('does not take forged peaks: hashes that do not rebuild the root leave the size unknown', () => {
    const tree = treeOf(contents[20]!);
    const verifier = new ChunkVerifier(SHA1, tree.root);
    for (const p of tree.peaks) verifier.offer({ ...p, hash: sha1(p.hash) });
    expect(verifier.chunkCount).to.equal(undefined);
    expect(() => verifier.offer({ layer: 0, offset: 0, hash: Buffer.alloc(32) })).to.throw(/32 bytes in a sha1 swarm/);
  });
});
