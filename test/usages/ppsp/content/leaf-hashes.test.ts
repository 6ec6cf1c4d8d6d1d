import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { ErrorCode } from '../../../../overlay/errors.js';
import { encodeCbor } from '../../../../overlay/wire/cbor.js';
import { decodeDataMessage, encodeDataMessage, type PpspDataMessage } from '../../../../usages/ppsp/data/data-messages.js';
import { hashRanges, hashesPerFrame, LeafHashCollector, LeafHashes } from '../../../../usages/ppsp/content/leaf-hashes.js';
import { hashChunk, rootOfLeafHashes } from '../../../../usages/ppsp/content/merkle.js';
import { swarmMetadataOf } from '../../../../usages/ppsp/content/swarm-id.js';
import { expectReloadError } from '../../../helpers/expect-reload-error.js';

function content(chunks: number, chunkSize = 1024) {
  const data = randomBytes(chunks * chunkSize - 7);
  const pieces: Buffer[] = [];
  for (let at = 0; at < data.length; at += chunkSize) pieces.push(data.subarray(at, at + chunkSize));
  const packed = Buffer.concat(pieces.map(hashChunk));
  return { pieces, packed, metadata: swarmMetadataOf(rootOfLeafHashes(packed), data.length, chunkSize) };
}

describe('PPSP leaf hashes', () => {
  it('splits the list into frame-sized ranges', () => {
    expect(hashRanges(5, 2)).to.deep.equal([{ first: 0, last: 1 }, { first: 2, last: 3 }, { first: 4, last: 4 }]);
    expect(hashRanges(0, 2)).to.deep.equal([]);
    expect(hashesPerFrame(1 << 20)).to.equal(16_384);
    expect(hashesPerFrame(16 + 64)).to.equal(2);
    expect(() => hashesPerFrame(40)).to.throw(RangeError);
  });

  it('collects answers in order and accepts only a list that rebuilds the root', () => {
    const { pieces, packed, metadata } = content(37);
    const c = new LeafHashCollector(metadata);
    for (const { first, last } of hashRanges(37, 8)) {
      const wire = encodeDataMessage({ type: 'hashes', first, hashes: packed.subarray(first * 32, (last + 1) * 32) });
      const m = decodeDataMessage(wire, { chunkCount: 37, maxChunkBytes: 1024 }) as Extract<PpspDataMessage, { type: 'hashes' }>;
      c.add(m.first, m.hashes);
    }
    const leaves = c.finish();
    for (let i = 0; i < 37; i++) expect(leaves.verifyChunk(i, pieces[i]!), `chunk ${i}`).to.equal(true);
    expect(Buffer.from(leaves.slice(3, 4))).to.deep.equal(packed.subarray(96, 160));
  });

  it('verifyChunk: each chunk checks against its own trusted leaf hash alone, no uncles needed', () => {
    const { pieces, packed, metadata } = content(13);
    const leaves = LeafHashes.verified(metadata, packed);
    expect(pieces.at(-1)!.length).to.equal(1024 - 7);
    for (let i = 0; i < pieces.length; i++) {
      const chunk = pieces[i]!;
      expect(leaves.verifyChunk(i, chunk), `chunk ${i}`).to.equal(true);
      for (const at of [0, chunk.length >> 1, chunk.length - 1]) {
        const flipped = Buffer.from(chunk);
        flipped[at]! ^= 0x01;
        expect(leaves.verifyChunk(i, flipped), `chunk ${i} flipped at ${at}`).to.equal(false);
      }
      // The right bytes under the wrong index: another chunk's leaf hash does not match.
      expect(leaves.verifyChunk(i, pieces[(i + 1) % pieces.length]!), `chunk ${(i + 1) % pieces.length} as ${i}`).to.equal(false);
      expect(leaves.verifyChunk((i + 1) % pieces.length, chunk), `chunk ${i} as ${(i + 1) % pieces.length}`).to.equal(false);
      expect(leaves.verifyChunk(i, chunk.subarray(0, chunk.length - 1)), `chunk ${i} one byte short`).to.equal(false);
    }
    // The short last chunk padded to the full chunk size is not the last chunk.
    const last = pieces.length - 1;
    expect(leaves.verifyChunk(last, Buffer.concat([pieces[last]!, Buffer.alloc(7)]))).to.equal(false);
  });

  it('refuses gaps, overruns, incomplete and forged lists', () => {
    const { packed, metadata } = content(9);
    const c = new LeafHashCollector(metadata);
    expectReloadError(() => c.add(1, packed.subarray(32, 64)), ErrorCode.Invalid_Message, { reason: 'unexpected_hashes' });
    expectReloadError(() => c.add(0, packed.subarray(0, 40)), ErrorCode.Invalid_Message, { reason: 'unexpected_hashes' });
    c.add(0, packed.subarray(0, 64));
    expectReloadError(() => c.finish(), ErrorCode.Not_Found, { reason: 'incomplete' });
    expectReloadError(() => c.add(2, new Uint8Array(8 * 32)), ErrorCode.Invalid_Message, { reason: 'unexpected_hashes' });
    const forged = Buffer.from(packed);
    forged[100]! ^= 1;
    expectReloadError(() => LeafHashes.verified(metadata, forged), ErrorCode.Invalid_Message, { reason: 'bad_leaf_hashes' });
    expectReloadError(() => LeafHashes.verified(metadata, packed.subarray(32)), ErrorCode.Invalid_Message, { reason: 'bad_leaf_hashes' });
  });

  it('encodes and strictly decodes the new data-channel messages', () => {
    const bounds = { chunkCount: 10, maxChunkBytes: 1024 };
    const root = new Uint8Array(32).fill(7);
    const round: PpspDataMessage[] = [
      { type: 'hashesRequest', first: 0, last: 9 },
      { type: 'hashes', first: 8, hashes: new Uint8Array(64).fill(1) },
      { type: 'metadata', rootHash: root, contentLength: 2 ** 40, chunkSize: 1024 },
      { type: 'availability', value: [2, [[0, 3]]] },
    ];
    for (const m of round) {
      const norm = (x: object) => Object.fromEntries(Object.entries(x).map(([k, v]) => [k, v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v]));
      expect(norm(decodeDataMessage(encodeDataMessage(m), bounds))).to.deep.equal(norm(m));
    }
    const bad = (items: unknown[], reason?: string) =>
      expectReloadError(() => decodeDataMessage(encodeCbor(items), bounds), ErrorCode.Invalid_Message, reason ? { reason } : {});
    bad([14, 0, 10], 'out_of_range');
    bad([14, 3, 2]);
    bad([15, 9, new Uint8Array(64)], 'out_of_range');
    bad([15, 0, new Uint8Array(33)]);
    bad([15, 0, new Uint8Array(0)]);
    bad([16, root, -1, 1024]);
    bad([16, root.subarray(1), 1, 1024]);
    bad([17]);
  });
});
