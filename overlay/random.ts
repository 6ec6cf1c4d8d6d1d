/**
 * The one place that draws random numbers for the overlay. Everything that draws takes a
 * `Random`, so a simulation can replay a run from its seed; real nodes use node:crypto.
 */
import { randomBytes } from 'node:crypto';

export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** `n` random bytes. */
  bytes(n: number): Uint8Array;
}

/** node:crypto's generator: what a real node uses (transaction ids must not be guessable). */
export const systemRandom: Random = {
  next: () => randomBytes(4).readUInt32BE(0) / 4_294_967_296,
  bytes: (n) => randomBytes(n),
};

/**
 * A small deterministic generator (mulberry32): the same seed gives the same draws, for
 * simulations and tests. Not for anything an attacker could exploit.
 */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return {
    next,
    bytes: (n) => Uint8Array.from({ length: n }, () => Math.floor(next() * 256)),
  };
}

/** A copy of `items` in random order (Fisher-Yates), drawing from `next` (uniform in [0, 1)). */
export function shuffled<T>(items: readonly T[], next: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
