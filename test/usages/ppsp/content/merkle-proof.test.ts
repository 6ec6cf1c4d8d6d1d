import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { ErrorCode } from '../../../../overlay/errors.js';
import { HASH_BYTES, rootOfLeafHashes, treeHeight } from '../../../../usages/ppsp/content/merkle.js';
import { MerkleLevels, subtreeHeight, verifySubtree } from '../../../../usages/ppsp/content/merkle-proof.js';
import { expectReloadError } from '../../../helpers/expect-reload-error.js';

/** Every aligned subtree of `count` chunks: [first, last]. */
function subtrees(count: number): [number, number][] {
  const out: [number, number][] = [];
  for (let k = 0; k <= treeHeight(count); k++) {
    for (let first = 0; first < count; first += 2 ** k) out.push([first, Math.min(first + 2 ** k, count) - 1]);
  }
  return out;
}

describe('Merkle range proofs', () => {
  it('every aligned subtree of trees of 1..70 chunks checks against the root built from all leaves', () => {
    for (let count = 1; count <= 70; count++) {
      const packed = randomBytes(count * HASH_BYTES);
      const root = rootOfLeafHashes(packed);
      const levels = new MerkleLevels(packed, count);
      for (const [first, last] of subtrees(count)) {
        const leaves = packed.subarray(first * HASH_BYTES, (last + 1) * HASH_BYTES);
        const uncles = levels.uncles(first, last, count);
        expect(uncles.length / HASH_BYTES, `${count}: ${first}..${last}`).to.equal(treeHeight(count) - subtreeHeight(first, last, count));
        expect(verifySubtree(root, count, first, leaves, uncles), `${count}: ${first}..${last}`).to.equal(true);
      }
    }
  });

  it('a flipped bit in a leaf or an uncle, or a proof for another range, fails', () => {
    const count = 37;
    const packed = randomBytes(count * HASH_BYTES);
    const root = rootOfLeafHashes(packed);
    const levels = new MerkleLevels(packed, count);
    for (const [first, last] of subtrees(count)) {
      const leaves = Buffer.from(packed.subarray(first * HASH_BYTES, (last + 1) * HASH_BYTES));
      const uncles = levels.uncles(first, last, count);
      const badLeaf = Buffer.from(leaves);
      badLeaf[badLeaf.length - 1]! ^= 0x80;
      expect(verifySubtree(root, count, first, badLeaf, uncles)).to.equal(false);
      if (uncles.length > 0) {
        const badUncle = Buffer.from(uncles);
        badUncle[0]! ^= 0x01;
        expect(verifySubtree(root, count, first, leaves, badUncle)).to.equal(false);
      }
    }
    // The leaves of 0..7 with the uncles of 8..15 (same height, other side).
    expect(verifySubtree(root, count, 0, packed.subarray(0, 8 * HASH_BYTES), levels.uncles(8, 15, count))).to.equal(false);
  });

  it('refuses ranges that are not whole aligned subtrees, and a wrong number of uncles', () => {
    const count = 37;
    for (const [first, last] of [[1, 2], [0, 2], [4, 11], [36, 37], [-1, 0], [5, 4]]) {
      expectReloadError(() => subtreeHeight(first!, last!, count), ErrorCode.Invalid_Message, { reason: 'unaligned_hashes' });
    }
    // The last subtree may end at the content's end: 32..36 sits in the subtree 32..39.
    expect(subtreeHeight(32, 36, count)).to.equal(3);
    const packed = randomBytes(count * HASH_BYTES);
    expectReloadError(() => verifySubtree(rootOfLeafHashes(packed), count, 0, packed.subarray(0, 4 * HASH_BYTES), Buffer.alloc(0)), ErrorCode.Invalid_Message, { reason: 'bad_hashes' });
  });
});
