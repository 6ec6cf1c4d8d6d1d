import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { ErrorCode } from '../../../overlay/errors.js';
import { hashChunk, MerkleBuilder, MerkleTree, treeHeight, VerifiedHashes, verifyChunk } from '../../../usages/ppsp/merkle.js';
import { expectReloadError } from '../../helpers/expect-reload-error.js';
import { Prng } from '../../helpers/prng.js';

const ZERO = Buffer.alloc(32);
const sha = (...parts: Uint8Array[]) => parts.reduce((h, p) => h.update(p), createHash('sha256')).digest();
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/**
 * The reference: RFC 7574 §5.1 read literally, recursively. Node (k, j) covers leaves j·2^k ..
 * (j+1)·2^k − 1; wholly past the content it is the all-zero empty hash, a leaf is its chunk's hash,
 * anything else hashes its two children.
 */
class Reference {
  readonly height: number;
  constructor(private readonly leaves: Buffer[]) {
    let h = 0;
    while (1 << h < leaves.length) h++;
    this.height = h;
  }
  node(k: number, j: number): Buffer {
    if (j * 2 ** k >= this.leaves.length) return ZERO;
    if (k === 0) return this.leaves[j]!;
    return sha(this.node(k - 1, 2 * j), this.node(k - 1, 2 * j + 1));
  }
  root(): Buffer {
    return this.leaves.length === 0 ? ZERO : this.node(this.height, 0);
  }
  proof(i: number): Buffer[] {
    return Array.from({ length: this.height }, (_, k) => this.node(k, (i >> k) ^ 1));
  }
}

const chunksOf = (rng: Prng, n: number) => Array.from({ length: n }, () => rng.bytes(1 + rng.int(40)));

describe('ppsp Merkle tree (RFC 7574 §5)', () => {
  it('matches the recursive reference for 1..70 chunks: root, every proof, and every chunk verifies', () => {
    const rng = new Prng(7574);
    for (let n = 1; n <= 70; n++) {
      const chunks = chunksOf(rng, n);
      const ref = new Reference(chunks.map((c) => sha(c)));
      const tree = MerkleTree.fromChunks(chunks);
      expect(hex(tree.rootHash), `n=${n}`).to.equal(hex(ref.root()));
      expect(tree.height).to.equal(ref.height).and.to.equal(treeHeight(n));
      for (let i = 0; i < n; i++) {
        const proof = tree.proof(i);
        expect(proof.map(hex), `n=${n} i=${i}`).to.deep.equal(ref.proof(i).map(hex));
        expect(verifyChunk(tree.rootHash, i, n, chunks[i]!, proof), `n=${n} i=${i}`).to.equal(true);
      }
    }
  });

  it('matches the reference for large counts, built incrementally from leaf hashes', () => {
    const rng = new Prng(1);
    for (const n of [1023, 1024, 1025, 16384, 16385]) {
      const leaves = Array.from({ length: n }, () => Buffer.from(rng.bytes(32)));
      const builder = new MerkleBuilder();
      for (const leaf of leaves) builder.addLeafHash(leaf);
      const ref = new Reference(leaves);
      const root = ref.root();
      expect(hex(builder.rootHash()), `n=${n}`).to.equal(hex(root));
      const tree = MerkleTree.fromLeafHashes(builder.leafHashes());
      expect(hex(tree.rootHash)).to.equal(hex(root));
      for (const i of [0, 1, n >> 1, n - 2, n - 1]) expect(tree.proof(i).map(hex), `n=${n} i=${i}`).to.deep.equal(ref.proof(i).map(hex));
    }
  });

  it('has the RFC shape: empty padding is all zeros, a lone chunk is its own root, no chunks give a zero root', () => {
    const [a, b, c] = [Buffer.from('a'), Buffer.from('b'), Buffer.from('c')];
    expect(hex(MerkleTree.fromChunks([a]).rootHash)).to.equal(hex(sha(a)));
    expect(hex(MerkleTree.fromChunks([a, b]).rootHash)).to.equal(hex(sha(sha(a), sha(b))));
    // 3 chunks: the fourth leaf is the empty hash (zeros, not SHA-256 of nothing).
    expect(hex(MerkleTree.fromChunks([a, b, c]).rootHash)).to.equal(hex(sha(sha(sha(a), sha(b)), sha(sha(c), ZERO))));
    // 5 chunks: the right half above the fifth is H(H(H(e)‖0)‖0), its empty quarter a bare zero.
    const five = [a, b, c, a, b];
    const left = sha(sha(sha(a), sha(b)), sha(sha(c), sha(a)));
    expect(hex(MerkleTree.fromChunks(five).rootHash)).to.equal(hex(sha(left, sha(sha(sha(b), ZERO), ZERO))));
    expect(MerkleTree.fromChunks(five).proof(4).map(hex)).to.deep.equal([ZERO, ZERO, left].map(hex));
    expect(hex(MerkleTree.fromChunks([]).rootHash)).to.equal(hex(ZERO));
    expect(hex(new MerkleBuilder().rootHash())).to.equal(hex(ZERO));
    expect(hex(hashChunk(new Uint8Array(0)))).to.not.equal(hex(ZERO));
    expect([0, 1, 2, 3, 4, 5, 8, 9, 2 ** 22].map(treeHeight)).to.deep.equal([0, 0, 1, 2, 2, 3, 3, 4, 22]);
    expectReloadError(() => treeHeight(Infinity), ErrorCode.Invalid_Message, { reason: 'bad_chunk_count' });
  });

  it('builder rootHash can be read mid-stream and agrees with a tree of the chunks so far', () => {
    const rng = new Prng(3);
    const chunks = chunksOf(rng, 40);
    const builder = new MerkleBuilder({ keepLeafHashes: false });
    chunks.forEach((c, i) => {
      builder.addChunk(c);
      expect(hex(builder.rootHash()), `after ${i + 1}`).to.equal(hex(MerkleTree.fromChunks(chunks.slice(0, i + 1)).rootHash));
    });
    expect(() => builder.leafHashes()).to.throw(/keepLeafHashes/);
  });

  it('fails a flipped bit in the chunk, any uncle, the root; a wrong index or chunk count; a proof of the wrong length', () => {
    const rng = new Prng(11);
    for (const n of [2, 3, 5, 8, 13, 33]) {
      const chunks = chunksOf(rng, n);
      const tree = MerkleTree.fromChunks(chunks);
      const root = tree.rootHash;
      for (let i = 0; i < n; i++) {
        const chunk = chunks[i]!;
        const proof = tree.proof(i);
        const bit = (b: Uint8Array) => {
          const c = Uint8Array.from(b);
          c[rng.int(c.length)]! ^= 1 << rng.int(8);
          return c;
        };
        expect(verifyChunk(root, i, n, bit(chunk), proof), 'chunk').to.equal(false);
        for (let k = 0; k < proof.length; k++) {
          expect(verifyChunk(root, i, n, chunk, proof.map((u, m) => (m === k ? bit(u) : u))), `uncle ${k}`).to.equal(false);
        }
        expect(verifyChunk(bit(root), i, n, chunk, proof), 'root').to.equal(false);
        expect(verifyChunk(root, i ^ 1, n, chunk, proof), 'index').to.equal(false);
        expect(verifyChunk(root, i + n, n, chunk, proof), 'index out of range').to.equal(false);
        expect(verifyChunk(root, -1, n, chunk, proof), 'negative index').to.equal(false);
        // A count of another height needs another proof length; one of the same height is not
        // visible in the tree at all, which is why the swarm ID commits to the length (swarm-id.ts).
        expect(verifyChunk(root, i, 2 * n, chunk, proof), 'chunk count 2n').to.equal(false);
        expect(verifyChunk(root, i, 2 ** (treeHeight(n) - 1), chunk, proof), 'chunk count of a lower tree').to.equal(false);
        expect(verifyChunk(root, i, n, chunk, proof.slice(1)), 'short proof').to.equal(false);
        expect(verifyChunk(root, i, n, chunk, [...proof, ZERO]), 'long proof').to.equal(false);
        expect(verifyChunk(root, i, n, chunk, proof.map((u) => u.subarray(1))), 'short hashes').to.equal(false);
        expect(verifyChunk(root, i, n, chunks[(i + 1) % n]!, proof), 'another chunk').to.equal(false);
      }
    }
  });

  it('refuses out-of-range proofs and malformed leaf hashes with Invalid_Message', () => {
    const tree = MerkleTree.fromChunks([Buffer.from('x'), Buffer.from('y')]);
    expectReloadError(() => tree.proof(2), ErrorCode.Invalid_Message, { reason: 'chunk_out_of_range' });
    expectReloadError(() => tree.proof(-1), ErrorCode.Invalid_Message, { reason: 'chunk_out_of_range' });
    expectReloadError(() => tree.proof(0.5), ErrorCode.Invalid_Message, { reason: 'chunk_out_of_range' });
    expectReloadError(() => MerkleTree.fromLeafHashes(new Uint8Array(33)), ErrorCode.Invalid_Message, { reason: 'bad_hash_length' });
    expectReloadError(() => new MerkleBuilder().addLeafHash(new Uint8Array(31)), ErrorCode.Invalid_Message, { reason: 'bad_hash_length' });
  });

  it('proofs are copies: changing one leaves the tree intact', () => {
    const tree = MerkleTree.fromChunks([Buffer.from('x'), Buffer.from('y'), Buffer.from('z')]);
    const before = tree.proof(0).map(hex);
    tree.proof(0)[0]!.fill(7);
    tree.rootHash.fill(7);
    expect(tree.proof(0).map(hex)).to.deep.equal(before);
  });
});

describe('ppsp VerifiedHashes (RFC 7574 §5.3)', () => {
  const rng = new Prng(42);
  const n = 37;
  const chunks = chunksOf(rng, n);
  const tree = MerkleTree.fromChunks(chunks);

  it('accepts full proofs, then needs shorter ones; a sibling of a verified chunk needs none', () => {
    const cache = new VerifiedHashes(tree.rootHash, n);
    expect(cache.unclesNeeded(0)).to.equal(tree.height);
    expect(cache.verify(0, chunks[0]!, tree.proof(0))).to.equal(true);
    expect(cache.unclesNeeded(1)).to.equal(0);
    expect(cache.verify(1, chunks[1]!, [])).to.equal(true);
    // Chunk 2's parent's sibling (leaves 0-1) is known now: one uncle reaches it.
    expect(cache.unclesNeeded(2)).to.equal(1);
    expect(cache.verify(2, chunks[2]!, tree.proof(2).slice(0, 1))).to.equal(true);
    // A full proof still works after the cache has grown.
    expect(cache.verify(36, chunks[36]!, tree.proof(36))).to.equal(true);
    for (let i = 0; i < n; i++) {
      const needed = cache.unclesNeeded(i);
      expect(cache.verify(i, chunks[i]!, tree.proof(i).slice(0, needed)), `chunk ${i}`).to.equal(true);
    }
  });

  it('refuses a bad chunk or uncle, too few uncles, an out-of-range index, and learns nothing from a failure', () => {
    const cache = new VerifiedHashes(tree.rootHash, n);
    const bad = Uint8Array.from(chunks[5]!);
    bad[0]! ^= 1;
    expect(cache.verify(5, bad, tree.proof(5))).to.equal(false);
    const badProof = tree.proof(5);
    badProof[0]![3]! ^= 0x10;
    expect(cache.verify(5, chunks[5]!, badProof)).to.equal(false);
    expect(cache.verify(5, chunks[5]!, tree.proof(5).slice(0, tree.height - 1))).to.equal(false);
    expect(cache.verify(n, chunks[5]!, tree.proof(5))).to.equal(false);
    expect(cache.size).to.equal(1);
    expect(cache.verify(5, chunks[5]!, tree.proof(5))).to.equal(true);
    // The verified path now rejects a chunk that disagrees with it even with a consistent-looking proof.
    expect(cache.verify(4, chunks[5]!, [])).to.equal(false);
  });

  it('stops remembering at maxEntries but keeps verifying', () => {
    const cache = new VerifiedHashes(tree.rootHash, n, 4);
    for (let i = 0; i < n; i++) expect(cache.verify(i, chunks[i]!, tree.proof(i))).to.equal(true);
    expect(cache.size).to.be.at.most(4);
  });

  it('refuses a bad root or chunk count', () => {
    expectReloadError(() => new VerifiedHashes(new Uint8Array(31), 1), ErrorCode.Invalid_Message);
    expectReloadError(() => new VerifiedHashes(new Uint8Array(32), 0), ErrorCode.Invalid_Message);
  });
});
