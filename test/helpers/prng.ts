import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A tiny seeded PRNG (mulberry32) for fuzz and property tests: the same seed gives the same
 * sequence on every machine, so a failing case is reproduced by its seed. Not for cryptography.
 */
export class Prng {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** A uniform u32. */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A uniform integer in [0, n), for n up to 2^32. */
  int(n: number): number {
    return Math.floor((this.next() / 0x1_0000_0000) * n);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() / 0x1_0000_0000 < p;
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.next() & 0xff;
    return out;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

/**
 * The seed from FUZZ_SEED if set (to replay a failure), else a fresh one. A FUZZ_SEED that is not
 * a u32 in decimal is refused: it used to become 0 in silence, so a "replay" ran another case.
 */
export function fuzzSeed(env: NodeJS.ProcessEnv = process.env): number {
  const fromEnv = env.FUZZ_SEED;
  if (fromEnv === undefined || fromEnv === '') return Math.floor(Math.random() * 0x1_0000_0000);
  if (!/^\d{1,10}$/.test(fromEnv) || Number(fromEnv) > 0xffff_ffff) throw new RangeError(`FUZZ_SEED must be an integer from 0 to 4294967295, not "${fromEnv}"`);
  return Number(fromEnv);
}

/**
 * Called inside a describe that draws from `seed`: when one of its tests fails, prints the seed and
 * the command that runs that file again with it. Node-IDs come from fresh keys at each run, so the
 * replay repeats the random choices (resources, victims, order), not the ring's shape.
 */
export function printReplayOnFailure(seed: number, moduleUrl: string): void {
  afterEach(function () {
    if (this.currentTest?.state !== 'failed') return;
    const file = relative(process.cwd(), fileURLToPath(moduleUrl));
    console.error(`      replay: FUZZ_SEED=${seed} npx mocha ${file} --fgrep ${JSON.stringify(this.currentTest.title)}`);
  });
}
