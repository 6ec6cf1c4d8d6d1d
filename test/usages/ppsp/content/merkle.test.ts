import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { ErrorCode } from '../../../../overlay/errors.js';
import { HASH_BYTES, hashChunk, MerkleBuilder, rootOfLeafHashes, treeHeight } from '../../../../usages/ppsp/content/merkle.js';
import { expectReloadError } from '../../../helpers/expect-reload-error.js';
import { Prng } from '../../../helpers/prng.js';

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
}

const chunksOf = (rng: Prng, n: number) => Array.from({ length: n }, () => rng.bytes(1 + rng.int(40)));

/** A builder (keeping its leaf hashes) fed `chunks`. */
function builderOf(chunks: Uint8Array[]): MerkleBuilder {
  const builder = new MerkleBuilder();
  for (const chunk of chunks) builder.addChunk(chunk);
  return builder;
}
const rootOf = (chunks: Uint8Array[]) => builderOf(chunks).rootHash();
const leafAt = (packed: Uint8Array, i: number) => packed.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES);

describe('ppsp Merkle tree (RFC 7574 §5)', () => {
  it('matches the recursive reference for 1..70 chunks: root, height, count, and every leaf hash', () => {
    const rng = new Prng(7574);
    for (let n = 1; n <= 70; n++) {
      const chunks = chunksOf(rng, n);
      const ref = new Reference(chunks.map((c) => sha(c)));
      const builder = builderOf(chunks);
      expect(hex(builder.rootHash()), `n=${n}`).to.equal(hex(ref.root()));
      const packed = builder.leafHashes();
      expect(hex(rootOfLeafHashes(packed)), `n=${n}`).to.equal(hex(ref.root()));
      expect(treeHeight(n)).to.equal(ref.height);
      expect(builder.chunkCount).to.equal(n);
      expect(packed.length).to.equal(n * HASH_BYTES);
      for (let i = 0; i < n; i++) {
        // Leaf i is SHA-256 of chunk i: the trusted node a received chunk is checked against.
        expect(hex(leafAt(packed, i)), `n=${n} i=${i}`).to.equal(hex(sha(chunks[i]!)));
        expect(hex(hashChunk(chunks[i]!)), `n=${n} i=${i}`).to.equal(hex(sha(chunks[i]!)));
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
      const packed = builder.leafHashes();
      expect(packed.length).to.equal(n * HASH_BYTES);
      expect(hex(rootOfLeafHashes(packed)), `n=${n}`).to.equal(hex(root));
      expect(builder.chunkCount).to.equal(n);
      expect(treeHeight(n)).to.equal(ref.height);
      // Packed layout: chunk i's leaf at bytes [32i, 32i+32), kept as given (and left so by rootOfLeafHashes).
      for (const i of [0, 1, n >> 1, n - 2, n - 1]) {
        expect(hex(leafAt(packed, i)), `n=${n} i=${i}`).to.equal(hex(leaves[i]!));
      }
    }
  });

  it('has the RFC shape: empty padding is all zeros, a lone chunk is its own root, no chunks give a zero root', () => {
    const [a, b, c] = [Buffer.from('a'), Buffer.from('b'), Buffer.from('c')];
    expect(hex(rootOf([a]))).to.equal(hex(sha(a)));
    expect(hex(rootOf([a, b]))).to.equal(hex(sha(sha(a), sha(b))));
    // 3 chunks: the fourth leaf is the empty hash (zeros, not SHA-256 of nothing).
    expect(hex(rootOf([a, b, c]))).to.equal(hex(sha(sha(sha(a), sha(b)), sha(sha(c), ZERO))));
    // 5 chunks: the right half above the fifth is H(H(H(e)‖0)‖0), its empty quarter a bare zero.
    const five = [a, b, c, a, b];
    const left = sha(sha(sha(a), sha(b)), sha(sha(c), sha(a)));
    expect(hex(rootOf(five))).to.equal(hex(sha(left, sha(sha(sha(b), ZERO), ZERO))));
    expect(hex(rootOfLeafHashes(Buffer.concat(five.map(hashChunk))))).to.equal(hex(sha(left, sha(sha(sha(b), ZERO), ZERO))));
    expect(treeHeight(five.length)).to.equal(3);
    expect(hex(rootOf([]))).to.equal(hex(ZERO));
    expect(hex(rootOfLeafHashes(new Uint8Array(0)))).to.equal(hex(ZERO));
    expect(hex(new MerkleBuilder().rootHash())).to.equal(hex(ZERO));
    expect(hex(hashChunk(new Uint8Array(0)))).to.not.equal(hex(ZERO));
    expect([0, 1, 2, 3, 4, 5, 8, 9, 2 ** 22].map(treeHeight)).to.deep.equal([0, 0, 1, 2, 2, 3, 3, 4, 22]);
    expectReloadError(() => treeHeight(Infinity), ErrorCode.Invalid_Message, { reason: 'bad_chunk_count' });
  });

  it('builder rootHash can be read mid-stream and agrees with the reference over the chunks so far', () => {
    const rng = new Prng(3);
    const chunks = chunksOf(rng, 40);
    const builder = new MerkleBuilder({ keepLeafHashes: false });
    chunks.forEach((c, i) => {
      builder.addChunk(c);
      expect(hex(builder.rootHash()), `after ${i + 1}`).to.equal(hex(new Reference(chunks.slice(0, i + 1).map((x) => sha(x))).root()));
    });
    expect(() => builder.leafHashes()).to.throw(/keepLeafHashes/);
  });

  it('refuses bad chunk counts and malformed leaf hashes with Invalid_Message', () => {
    expectReloadError(() => treeHeight(-1), ErrorCode.Invalid_Message, { reason: 'bad_chunk_count' });
    expectReloadError(() => treeHeight(0.5), ErrorCode.Invalid_Message, { reason: 'bad_chunk_count' });
    for (const length of [1, 31, 33, 65]) {
      expectReloadError(() => rootOfLeafHashes(new Uint8Array(length)), ErrorCode.Invalid_Message, { reason: 'bad_hash_length' });
    }
    expectReloadError(() => new MerkleBuilder().addLeafHash(new Uint8Array(31)), ErrorCode.Invalid_Message, { reason: 'bad_hash_length' });
    expectReloadError(() => new MerkleBuilder().addLeafHash(new Uint8Array(33)), ErrorCode.Invalid_Message, { reason: 'bad_hash_length' });
    expectReloadError(() => new MerkleBuilder({ keepLeafHashes: false }).addLeafHash(new Uint8Array(0)), ErrorCode.Invalid_Message, { reason: 'bad_hash_length' });
  });

  it('hands out copies: changing the input, a returned root or the builder\'s list changes nothing inside', () => {
    const xyz = [Buffer.from('x'), Buffer.from('y'), Buffer.from('z')];
    const input = Buffer.concat(xyz.map(hashChunk));
    const root = rootOfLeafHashes(input);
    const rootHex = hex(root);
    expect(rootHex).to.equal(hex(new Reference(xyz.map((x) => sha(x))).root()));
    // The input is left as given, and the same list read through an offset view has the same root.
    expect(hex(input)).to.equal(hex(Buffer.concat(xyz.map((x) => sha(x)))));
    const framed = Buffer.concat([Buffer.alloc(5, 9), input, Buffer.alloc(3, 9)]);
    expect(hex(rootOfLeafHashes(framed.subarray(5, 5 + input.length)))).to.equal(rootHex);
    input.fill(7);
    expect(hex(root)).to.equal(rootHex);
    root.fill(7);
    expect(hex(rootOfLeafHashes(framed.subarray(5, 5 + 3 * HASH_BYTES)))).to.equal(rootHex);
    // A lone leaf is its own root, yet the root is not a view of the caller's bytes.
    const lone = hashChunk(Buffer.from('x'));
    const loneRoot = rootOfLeafHashes(lone);
    lone.fill(7);
    expect(hex(loneRoot)).to.equal(hex(sha(Buffer.from('x'))));
    const builder = new MerkleBuilder();
    builder.addChunk(Buffer.from('x'));
    const before = hex(builder.leafHashes());
    builder.leafHashes().fill(7);
    expect(hex(builder.leafHashes())).to.equal(before);
    expect(hex(builder.rootHash())).to.equal(hex(sha(Buffer.from('x'))));
    // With a power-of-two count the root is the builder's only peak: changing it must not reach in.
    builder.addChunk(Buffer.from('y'));
    const pairRoot = hex(builder.rootHash());
    builder.rootHash().fill(7);
    expect(hex(builder.rootHash())).to.equal(pairRoot);
    builder.addChunk(Buffer.from('z'));
    expect(hex(builder.rootHash())).to.equal(hex(new Reference(xyz.map((x) => sha(x))).root()));
  });
});
