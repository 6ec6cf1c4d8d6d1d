import { expect } from 'chai';
import { bitmapBytes, ChunkBitmap } from '../../../../usages/ppsp/content/chunk-bitmap.js';
import { fuzzSeed, printReplayOnFailure, Prng } from '../../../helpers/prng.js';

/** The reference: a plain boolean per chunk, and the BitTorrent bytes it stands for. */
function referenceBytes(held: readonly boolean[]): number[] {
  const out = new Array<number>(bitmapBytes(held.length)).fill(0);
  held.forEach((h, i) => {
    if (h) out[Math.floor(i / 8)]! += 2 ** (7 - (i % 8));
  });
  return out;
}

function referenceRuns(held: readonly boolean[]): { first: number; last: number }[] {
  const runs: { first: number; last: number }[] = [];
  held.forEach((h, i) => {
    if (!h) return;
    const last = runs[runs.length - 1];
    if (last && last.last === i - 1) last.last = i;
    else runs.push({ first: i, last: i });
  });
  return runs;
}

describe('ppsp ChunkBitmap (BitTorrent layout, one type for availability and the chunk store)', () => {
  const seed = fuzzSeed();
  printReplayOnFailure(seed, import.meta.url);

  it('keeps one bit per chunk, bit 7 of byte 0 first, and lists the missing ones', () => {
    const bitmap = new ChunkBitmap(10);
    expect(bitmap.toBytes().length).to.equal(2);
    expect(bitmap.set(0)).to.equal(true);
    expect(bitmap.set(0)).to.equal(false);
    bitmap.set(9);
    expect([...bitmap.toBytes()]).to.deep.equal([0x80, 0x40]);
    expect(bitmap.count).to.equal(2);
    expect([...bitmap.missing()]).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8]);
    expect([-1, 10, 0.5, NaN].map((i) => bitmap.get(i))).to.deep.equal([false, false, false, false]);
    expect(new ChunkBitmap(0).isComplete).to.equal(true);
  });

  it('refuses misuse with RangeError: bad sizes, indices outside the bitmap, reversed ranges', () => {
    for (const size of [-1, 1.5, NaN, 2 ** 53]) expect(() => new ChunkBitmap(size)).to.throw(RangeError);
    const bitmap = new ChunkBitmap(10);
    for (const i of [-1, 10, 0.5, NaN]) expect(() => bitmap.set(i)).to.throw(RangeError);
    expect(() => bitmap.setRange(5, 10)).to.throw(RangeError);
    expect(() => bitmap.setRange(5, 4)).to.throw(RangeError);
    expect(bitmap.count).to.equal(0);
  });

  it('loads bytes only of the exact length with spare bits clear, unless asked to clear them', () => {
    expect(ChunkBitmap.problemWith(10, Uint8Array.from([0xff, 0xc0]))).to.equal(undefined);
    expect(ChunkBitmap.problemWith(10, new Uint8Array(3))).to.match(/must be 2 bytes/);
    expect(ChunkBitmap.problemWith(10, 'xx')).to.match(/must be 2 bytes/);
    expect(ChunkBitmap.problemWith(10, Uint8Array.from([0, 0x20]))).to.match(/past the last chunk/);
    expect(() => ChunkBitmap.fromBytes(10, Uint8Array.from([0, 0x20]))).to.throw(RangeError, /past the last chunk/);
    expect(() => ChunkBitmap.fromBytes(10, new Uint8Array(1), { clearSpareBits: true })).to.throw(RangeError, /must be 2 bytes/);
    const lenient = ChunkBitmap.fromBytes(10, Uint8Array.from([0xff, 0xff]), { clearSpareBits: true });
    expect(lenient.count).to.equal(10);
    expect([...lenient.toBytes()]).to.deep.equal([0xff, 0xc0]);
    // Copied both ways: the caller's buffer and the bitmap do not alias.
    const source = Uint8Array.from([0x80, 0]);
    const loaded = ChunkBitmap.fromBytes(10, source);
    source[0] = 0;
    expect(loaded.get(0)).to.equal(true);
    loaded.toBytes()[0] = 0;
    expect(loaded.get(0)).to.equal(true);
    const copy = loaded.clone();
    copy.set(1);
    expect(loaded.get(1)).to.equal(false);
  });

  it('agrees with a boolean-array reference under random sets, ranges and loads', () => {
    const rng = new Prng(seed);
    for (let round = 0; round < 300; round++) {
      const size = rng.pick([0, 1, 7, 8, 9, 16, 17, 63, 64, 65, 200]) + (rng.chance(0.3) ? rng.int(40) : 0);
      const held = new Array<boolean>(size).fill(false);
      let bitmap = new ChunkBitmap(size);
      for (let step = 0; step < 40 && size > 0; step++) {
        const context = `seed ${seed}, round ${round}, step ${step}, size ${size}`;
        const a = rng.int(size);
        const b = rng.chance(0.5) ? a : Math.min(size - 1, a + rng.int(size - a + 1));
        switch (rng.int(3)) {
          case 0:
            expect(bitmap.set(a), context).to.equal(!held[a]);
            held[a] = true;
            break;
          case 1: {
            const fresh = held.slice(a, b + 1).filter((h) => !h).length;
            expect(bitmap.setRange(a, b), context).to.equal(fresh);
            held.fill(true, a, b + 1);
            break;
          }
          default:
            bitmap = ChunkBitmap.fromBytes(size, bitmap.toBytes());
        }
        expect([...bitmap.toBytes()], context).to.deep.equal(referenceBytes(held));
        expect(bitmap.count, context).to.equal(held.filter(Boolean).length);
        expect(bitmap.isComplete, context).to.equal(held.every(Boolean));
        expect([...bitmap.missing()], context).to.deep.equal(held.flatMap((h, i) => (h ? [] : [i])));
        expect([...bitmap.runs()], context).to.deep.equal(referenceRuns(held));
        const probe = rng.int(size + 2) - 1;
        expect(bitmap.get(probe), context).to.equal(held[probe] === true);
      }
    }
  });
});
