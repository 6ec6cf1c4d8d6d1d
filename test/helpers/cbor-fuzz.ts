/**
 * Random CBOR-shaped values for fuzzing decoders of decoded bodies: numbers near the limits that
 * matter, odd numbers, bigints, byte strings of telling lengths, texts, other scalars, and nested
 * arrays. Each fuzz test passes the values that are interesting to its own codec.
 */
import type { Prng } from './prng.js';

export interface FuzzPools {
  /** Integers near the codec's limits. */
  ints: readonly number[];
  /** Byte string lengths near the codec's ids and hashes. */
  byteLengths: readonly number[];
  texts: readonly string[];
  /** Further values of the codec's own (valid ids, known constants). */
  extras?: readonly unknown[];
}

const ODD_NUMBERS = [-1, 0.5, NaN, Infinity, -Infinity, 2 ** 53, 1e300];
const BIGINTS = [0n, 1n, 2n, 2n ** 53n, 2n ** 64n - 1n, 2n ** 64n, -1n];
const SCALARS = [true, false, null, undefined, { 0: 1 }];

/** One random value; arrays nest at most `maxDepth` deep. */
export function randomItem(rng: Prng, pools: FuzzPools, depth = 0, maxDepth = 3): unknown {
  const kinds = 8 + (pools.extras ? 1 : 0);
  const kind = rng.int(depth >= maxDepth ? kinds - 1 : kinds);
  switch (kind) {
    case 0:
      return rng.pick(pools.ints);
    case 1:
      return rng.pick(ODD_NUMBERS);
    case 2:
      return rng.pick(BIGINTS);
    case 3:
      return rng.bytes(rng.pick([...pools.byteLengths, rng.int(300)]));
    case 4:
      return rng.pick(pools.texts);
    case 5:
      return rng.pick(SCALARS);
    case 6:
      return [];
    case 7:
      if (pools.extras) return rng.pick(pools.extras);
    // falls through: without extras, 7 is the nested array
    default:
      return Array.from({ length: rng.int(6) }, () => randomItem(rng, pools, depth + 1, maxDepth));
  }
}

/** Every array inside `item`, itself included: the places a mutation may edit. */
export function arraysIn(item: unknown, out: unknown[][] = []): unknown[][] {
  if (Array.isArray(item)) {
    out.push(item);
    for (const child of item) arraysIn(child, out);
  }
  return out;
}
