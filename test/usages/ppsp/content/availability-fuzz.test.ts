/**
 * Seeded fuzz of decodeAvailability: random items, mutated valid values and mutated CBOR bytes.
 * Only ReloadError(Invalid_Message) may escape; what is accepted must re-encode to the same set.
 * Replay a failure with FUZZ_SEED=<seed>.
 */
import { expect } from 'chai';
import { ErrorCode, ReloadError } from '../../../../overlay/errors.js';
import { decodeCbor, encodeCbor } from '../../../../overlay/wire/cbor.js';
import { Availability, decodeAvailability, encodeAvailability } from '../../../../usages/ppsp/content/availability.js';
import { fuzzSeed, Prng } from '../../../helpers/prng.js';
import { arraysIn, randomItem, type FuzzPools } from '../../../helpers/cbor-fuzz.js';

const POOLS: FuzzPools = { ints: [0, 1, 2, 3, 7, 8, 19, 20, 21, 255, 2 ** 22, 2 ** 32, 2 ** 53 - 1], byteLengths: [0, 1, 2, 3, 4], texts: ['', '1', 'bitmap'] };

const CASES = 20_000;

/** A valid value for `n` chunks, then 1-3 edits: replace, drop, repeat, append, or nudge a number. */
function mutatedValue(rng: Prng, n: number): unknown {
  const a = new Availability(n);
  for (let i = 0; i < n; i++) if (rng.chance(0.4)) a.set(i);
  const value = structuredClone(encodeAvailability(a, rng.pick([undefined, 1, 2] as const))) as unknown[];
  for (let edits = 1 + rng.int(3); edits > 0; edits--) {
    const list = rng.pick(arraysIn(value));
    const at = rng.int(Math.max(1, list.length));
    switch (rng.int(6)) {
      case 0:
        list.splice(at, 1);
        break;
      case 1:
        if (list.length > 0) list.splice(at, 0, structuredClone(list[at]));
        break;
      case 2:
        list.push(randomItem(rng, POOLS, 0, 3));
        break;
      case 3:
        if (typeof list[at] === 'number') list[at] = (list[at] as number) + rng.pick([-2, -1, 1, 2, n]);
        break;
      case 4: {
        const bytes = list.find((x): x is Uint8Array => x instanceof Uint8Array);
        if (bytes && bytes.length > 0) bytes[rng.int(bytes.length)]! ^= 1 << rng.int(8);
        break;
      }
      default:
        list[at] = randomItem(rng, POOLS, 0, 3);
    }
  }
  return value;
}

function mutatedBytes(rng: Prng, n: number): unknown {
  const a = new Availability(n);
  for (let i = 0; i < n; i++) if (rng.chance(0.5)) a.set(i);
  const bytes = Buffer.from(encodeCbor(encodeAvailability(a)));
  for (let flips = 1 + rng.int(3); flips > 0; flips--) bytes[rng.int(bytes.length)]! ^= 1 << rng.int(8);
  return decodeCbor(Uint8Array.from(rng.chance(0.2) ? bytes.subarray(0, rng.int(bytes.length)) : bytes));
}

describe('ppsp availability fuzz', () => {
  it(`refuses ${CASES} random and mutated availabilities with Invalid_Message only, and re-encodes what it accepts`, function () {
    this.timeout(60_000);
    const seed = fuzzSeed();
    const rng = new Prng(seed);
    let accepted = 0;
    for (let i = 0; i < CASES; i++) {
      const n = rng.pick([0, 1, 7, 8, 9, 20, 64, rng.int(300)]);
      const kind = rng.int(3);
      let value: unknown;
      let decoded: Availability;
      try {
        value = kind === 0 ? randomItem(rng, POOLS, 0, 3) : kind === 1 ? mutatedValue(rng, n) : mutatedBytes(rng, n);
        decoded = decodeAvailability(value, n);
      } catch (e) {
        const context = `seed ${seed} case ${i} (n=${n}, kind ${kind})`;
        expect(e, context).to.be.instanceOf(ReloadError);
        expect((e as ReloadError).code, `${context}: ${(e as Error).message}`).to.equal(ErrorCode.Invalid_Message);
        continue;
      }
      accepted++;
      const again = decodeAvailability(encodeAvailability(decoded), n);
      expect([...again.ranges()], `seed ${seed} case ${i}`).to.deep.equal([...decoded.ranges()]);
    }
    expect(accepted, `seed ${seed}`).to.be.greaterThan(0);
  });
});
