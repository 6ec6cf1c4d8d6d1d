import { expect } from 'chai';
import { ErrorCode } from '../../../../overlay/errors.js';
import { decodeCbor, encodeCbor } from '../../../../overlay/wire/cbor.js';
import {
  Availability,
  AVAILABILITY_BITMAP,
  AVAILABILITY_RANGES,
  decodeAvailability,
  decodeHave,
  encodeAvailability,
  encodeHave,
} from '../../../../usages/ppsp/content/availability.js';
import { MAX_CHUNK_COUNT } from '../../../../usages/ppsp/content/swarm-id.js';
import { expectReloadError } from '../../../helpers/expect-reload-error.js';
import { Prng } from '../../../helpers/prng.js';

const invalid = (fn: () => unknown, reason = 'bad_availability') => expectReloadError(fn, ErrorCode.Invalid_Message, { reason });
const held = (a: Availability) => Array.from({ length: a.chunkCount }, (_, i) => i).filter((i) => a.has(i));
const of = (n: number, chunks: number[]) => {
  const a = new Availability(n);
  for (const i of chunks) a.set(i);
  return a;
};
/** Through real CBOR bytes, as a peer would receive it. */
const overWire = (value: unknown) => decodeCbor(Uint8Array.from(encodeCbor(value)));

describe('ppsp Availability (seed §4.2.2)', () => {
  it('sets, tests and counts chunks; iterates missing chunks and maximal ranges', () => {
    const a = new Availability(20);
    expect(a.count).to.equal(0);
    expect(a.isComplete).to.equal(false);
    expect(a.set(3)).to.equal(true);
    expect(a.set(3)).to.equal(false);
    expect(a.setRange({ first: 8, last: 17 })).to.equal(10);
    expect(a.setRange({ first: 16, last: 19 })).to.equal(2);
    expect(a.count).to.equal(13);
    expect(a.has(3) && a.has(8) && a.has(19) && !a.has(4)).to.equal(true);
    expect([...a.ranges()]).to.deep.equal([
      { first: 3, last: 3 },
      { first: 8, last: 19 },
    ]);
    expect([...a.missing()]).to.deep.equal([0, 1, 2, 4, 5, 6, 7]);
    expect(a.hasRange({ first: 8, last: 19 })).to.equal(true);
    expect(a.hasRange({ first: 3, last: 3 })).to.equal(true);
    expect(a.hasRange({ first: 3, last: 8 })).to.equal(false);
    expect(a.hasRange({ first: 19, last: 19 })).to.equal(true);
    a.setRange({ first: 0, last: 7 });
    expect(a.isComplete).to.equal(true);
    expect(a.hasRange({ first: 0, last: 19 })).to.equal(true);
    expect([...a.missing()]).to.deep.equal([]);
    expect([...a.ranges()]).to.deep.equal([{ first: 0, last: 19 }]);
    expect(new Availability(0).isComplete).to.equal(true);
  });

  it('refuses out-of-range indices and bad chunk counts', () => {
    const a = new Availability(10);
    for (const i of [-1, 10, 1.5, NaN]) invalid(() => a.set(i), 'chunk_out_of_range');
    invalid(() => a.setRange({ first: 5, last: 10 }), 'chunk_out_of_range');
    invalid(() => a.setRange({ first: 5, last: 4 }), 'bad_range');
    invalid(() => new Availability(-1), 'bad_chunk_count');
    invalid(() => new Availability(MAX_CHUNK_COUNT + 1), 'bad_chunk_count');
  });

  it('ranges and missing agree with a plain scan on random sets', () => {
    const rng = new Prng(99);
    for (let round = 0; round < 200; round++) {
      const n = rng.int(100);
      const density = rng.pick([0.05, 0.5, 0.95, 1]);
      const a = of(
        n,
        Array.from({ length: n }, (_, i) => i).filter(() => rng.chance(density)),
      );
      const fromRanges = [...a.ranges()].flatMap(({ first, last }) => Array.from({ length: last - first + 1 }, (_, k) => first + k));
      expect(fromRanges).to.deep.equal(held(a));
      expect([...a.missing()]).to.deep.equal(Array.from({ length: n }, (_, i) => i).filter((i) => !a.has(i)));
      expect(a.count).to.equal(held(a).length);
    }
  });
});

describe('ppsp availability encoding', () => {
  it('bitmap: bit i is chunk i, most significant bit first, spare bits zero', () => {
    const a = of(10, [0, 7, 8, 9]);
    const [tag, bitmap] = encodeAvailability(a, AVAILABILITY_BITMAP);
    expect(tag).to.equal(AVAILABILITY_BITMAP);
    expect(Buffer.from(bitmap as Uint8Array).toString('hex')).to.equal('81c0');
    expect(encodeAvailability(a, AVAILABILITY_RANGES)).to.deep.equal([
      AVAILABILITY_RANGES,
      [
        [0, 0],
        [7, 9],
      ],
    ]);
  });

  it('round-trips both encodings through CBOR bytes for random sets', () => {
    const rng = new Prng(5);
    for (let round = 0; round < 300; round++) {
      const n = rng.pick([0, 1, 7, 8, 9, 63, 64, 65, rng.int(2000)]);
      const density = rng.pick([0, 0.01, 0.5, 0.99, 1]);
      const a = of(
        n,
        Array.from({ length: n }, (_, i) => i).filter(() => rng.chance(density)),
      );
      for (const preferred of [undefined, AVAILABILITY_BITMAP, AVAILABILITY_RANGES] as const) {
        const back = decodeAvailability(overWire(encodeAvailability(a, preferred)), n);
        expect(held(back), `n=${n} ${String(preferred)}`).to.deep.equal(held(a));
        expect(back.count).to.equal(a.count);
      }
    }
  });

  it('picks whichever is smaller in CBOR bytes', () => {
    const rng = new Prng(6);
    for (let round = 0; round < 300; round++) {
      const n = 1 + rng.int(3000);
      const a = of(
        n,
        Array.from({ length: n }, (_, i) => i).filter(() => rng.chance(rng.pick([0.001, 0.1, 0.5, 0.9, 0.999]))),
      );
      const size = (v: unknown) => encodeCbor(v).length;
      const bitmap = size(encodeAvailability(a, AVAILABILITY_BITMAP));
      const ranges = size(encodeAvailability(a, AVAILABILITY_RANGES));
      const chosen = size(encodeAvailability(a));
      expect(chosen, `n=${n} bitmap ${bitmap} ranges ${ranges}`).to.equal(Math.min(bitmap, ranges));
    }
    expect(encodeAvailability(new Availability(1000))[0]).to.equal(AVAILABILITY_RANGES); // nothing: []
    expect(encodeAvailability(of(1000, [...Array(1000).keys()]))[0]).to.equal(AVAILABILITY_RANGES); // all: one range
    expect(encodeAvailability(of(16, [0, 2, 4, 6, 8, 10, 12, 14]))[0]).to.equal(AVAILABILITY_BITMAP);
  });

  it('refuses every malformed form', () => {
    const n = 20;
    invalid(() => decodeAvailability([3, new Uint8Array(3)], n), 'unknown_availability_tag');
    invalid(() => decodeAvailability([0, []], n), 'unknown_availability_tag');
    invalid(() => decodeAvailability(['1', new Uint8Array(3)], n), 'unknown_availability_tag');
    for (const shape of [null, 1, [], [1], [1, new Uint8Array(3), 0], { 0: 1, 1: new Uint8Array(3) }]) invalid(() => decodeAvailability(shape, n));
    // Bitmaps: wrong type, wrong length, bits past the last chunk.
    invalid(() => decodeAvailability([1, [0, 0, 0]], n));
    invalid(() => decodeAvailability([1, new Uint8Array(2)], n));
    invalid(() => decodeAvailability([1, new Uint8Array(4)], n));
    invalid(() => decodeAvailability([1, Uint8Array.of(0, 0, 0x08)], n));
    invalid(() => decodeAvailability([1, Uint8Array.of(0, 0, 0x01)], n));
    expect(held(decodeAvailability([1, Uint8Array.of(0, 0, 0x10)], n))).to.deep.equal([19]);
    // Ranges: not a list, bad pairs, out of bounds, reversed, unsorted, overlapping, adjacent, too many.
    const ranges = (...r: unknown[]) => decodeAvailability([2, r], n);
    invalid(() => decodeAvailability([2, new Uint8Array(3)], n));
    invalid(() => ranges([1]), 'bad_range');
    invalid(() => ranges([1, 2, 3]), 'bad_range');
    invalid(() => ranges(5), 'bad_range');
    invalid(() => ranges([-1, 2]), 'bad_range');
    invalid(() => ranges([1.5, 2]), 'bad_range');
    invalid(() => ranges(['1', 2]), 'bad_range');
    invalid(() => ranges([0, 20]), 'bad_range');
    invalid(() => ranges([20, 20]), 'bad_range');
    invalid(() => ranges([5, 4]), 'bad_range');
    invalid(() => ranges([10, 12], [0, 3]));
    invalid(() => ranges([0, 5], [5, 8]));
    invalid(() => ranges([0, 5], [3, 8]));
    invalid(() => ranges([0, 5], [6, 8]));
    invalid(() => ranges([1, 1], [1, 1]));
    expect(decodeAvailability([2, Array.from({ length: 11 }, (_, i) => [2 * i, 2 * i])], 21).count).to.equal(11);
    invalid(() => decodeAvailability([2, Array.from({ length: 12 }, (_, i) => [2 * i, 2 * i])], 21));
    expect(held(ranges([0, 5], [7, 8], [19, 19]))).to.deep.equal([0, 1, 2, 3, 4, 5, 7, 8, 19]);
    expect(held(decodeAvailability([2, [[0n, 2n]]], n))).to.deep.equal([0, 1, 2]); // 8-byte integer heads
    invalid(() => decodeAvailability([2, [[0, 2n ** 64n]]], n), 'bad_range');
    // A swarm with no chunks: an empty bitmap or no ranges, nothing else.
    expect(decodeAvailability([1, new Uint8Array(0)], 0).count).to.equal(0);
    expect(decodeAvailability([2, []], 0).count).to.equal(0);
    invalid(() => decodeAvailability([2, [[0, 0]]], 0));
  });

  it('HAVE: [first, last] inclusive within the swarm', () => {
    expect(encodeHave({ first: 2, last: 5 })).to.deep.equal([2, 5]);
    expect(decodeHave(overWire([2, 5]), 10)).to.deep.equal({ first: 2, last: 5 });
    expect(decodeHave([9, 9], 10)).to.deep.equal({ first: 9, last: 9 });
    for (const bad of [[5, 2], [0, 10], [-1, 1], [0], [0, 1, 2], null, 'x', [0, 1.5]]) invalid(() => decodeHave(bad, 10), 'bad_range');
    const a = new Availability(10);
    expect(a.setRange(decodeHave([2, 5], 10))).to.equal(4);
  });
});
