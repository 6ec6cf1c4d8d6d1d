import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { ErrorCode } from '../../../../overlay/errors.js';
import { encodeCbor } from '../../../../overlay/wire/cbor.js';
import { decodeDataMessage, encodeDataMessage, type PpspDataMessage } from '../../../../usages/ppsp/data/data-messages.js';
import { hashesPerFrame, LeafHashes, PartialLeafHashes } from '../../../../usages/ppsp/content/leaf-hashes.js';
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
  it('frames hold a power of two of leaf hashes (a whole subtree), at most 16,384', () => {
    expect(hashesPerFrame(1 << 20)).to.equal(16_384);
    expect(hashesPerFrame(32 + 32 * 32 + 3 * 32)).to.equal(2);
    expect(() => hashesPerFrame(40)).to.throw(RangeError);
  });

  it('a leecher takes ranges in any order, each checked on its own with its uncles through the wire, and completes the list', () => {
    const { pieces, packed, metadata } = content(37);
    const seeder = LeafHashes.verified(metadata, packed);
    const partial = new PartialLeafHashes(metadata);
    const ranges: [number, number][] = [[32, 36], [8, 15], [0, 7], [16, 31]];
    for (const [first, last] of ranges) {
      const wire = encodeDataMessage({ type: 'hashes', first, hashes: seeder.slice(first, last), uncles: seeder.uncles(first, last) });
      const m = decodeDataMessage(wire, { chunkCount: 37, maxChunkBytes: 1024 }) as Extract<PpspDataMessage, { type: 'hashes' }>;
      expect(partial.verifyChunk(first, pieces[first]!), `chunk ${first} before its range`).to.equal(false);
      expect(partial.add(m.first, m.hashes, m.uncles)).to.deep.equal({ first, last });
      for (let c = first; c <= last; c++) expect(partial.verifyChunk(c, pieces[c]!), `chunk ${c}`).to.equal(true);
      expect(partial.complete).to.equal(last === 31);
    }
    const leaves = partial.toLeafHashes();
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

  it('refuses forged ranges and lists, and ranges that are not whole subtrees', () => {
    const { packed, metadata } = content(9);
    const seeder = LeafHashes.verified(metadata, packed);
    const partial = new PartialLeafHashes(metadata);
    const forged = Buffer.from(seeder.slice(0, 3));
    forged[5]! ^= 1;
    expectReloadError(() => partial.add(0, forged, seeder.uncles(0, 3)), ErrorCode.Invalid_Message, { reason: 'bad_hashes' });
    expectReloadError(() => partial.add(4, seeder.slice(4, 7), seeder.uncles(0, 3)), ErrorCode.Invalid_Message, { reason: 'bad_hashes' });
    expectReloadError(() => partial.add(1, seeder.slice(1, 2), new Uint8Array(0)), ErrorCode.Invalid_Message, { reason: 'unaligned_hashes' });
    expectReloadError(() => seeder.uncles(2, 5), ErrorCode.Invalid_Message, { reason: 'unaligned_hashes' });
    expect(partial.has(0)).to.equal(false);
    const whole = Buffer.from(packed);
    whole[100]! ^= 1;
    expectReloadError(() => LeafHashes.verified(metadata, whole), ErrorCode.Invalid_Message, { reason: 'bad_leaf_hashes' });
    expectReloadError(() => LeafHashes.verified(metadata, packed.subarray(32)), ErrorCode.Invalid_Message, { reason: 'bad_leaf_hashes' });
  });

  it('encodes and strictly decodes the new data-channel messages', () => {
    const bounds = { chunkCount: 10, maxChunkBytes: 1024 };
    const root = new Uint8Array(32).fill(7);
    const round: PpspDataMessage[] = [
      { type: 'hashesRequest', first: 0, last: 9 },
      { type: 'hashes', first: 8, hashes: new Uint8Array(64).fill(1), uncles: new Uint8Array(96).fill(2) },
      { type: 'hashes', first: 0, hashes: new Uint8Array(320).fill(1), uncles: new Uint8Array(0) },
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
    bad([15, 9, new Uint8Array(64), new Uint8Array(0)], 'out_of_range');
    bad([15, 0, new Uint8Array(33), new Uint8Array(0)]);
    bad([15, 0, new Uint8Array(0), new Uint8Array(0)]);
    bad([15, 0, new Uint8Array(32)]);
    bad([15, 0, new Uint8Array(32), new Uint8Array(31)]);
    bad([15, 0, new Uint8Array(32), new Uint8Array(33 * 32)]);
    bad([16, root, -1, 1024]);
    bad([16, root.subarray(1), 1, 1024]);
    bad([17]);
  });
});
