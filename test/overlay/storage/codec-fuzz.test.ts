/**
 * Fuzzing the storage body parsers: random bytes, byte-level mutations of valid bodies and
 * structure-aware mutations (a CBOR item anywhere in a valid body replaced by an item of another
 * type or size, removed or repeated) must give a ReloadError(Invalid_Message) and nothing else.
 * Whatever a parser accepts must encode again to a body that parses to the same value. The PRNG is
 * seeded; replay a failure with FUZZ_SEED=<seed>.
 */
import { expect } from 'chai';
import { ErrorCode, ReloadError } from '../../../overlay/errors.js';
import { decodeCbor, encodeCbor } from '../../../overlay/wire/cbor.js';
import { fuzzSeed, Prng } from '../../helpers/prng.js';
import { CODECS } from './codec-samples.js';
import { arraysIn, randomItem, type FuzzPools } from '../../helpers/cbor-fuzz.js';

const POOLS: FuzzPools = { ints: [0, 1, 2, 3, 4, 255, 256, 0xffff, 0xffffffff, 2 ** 32, 2 ** 53 - 1], byteLengths: [0, 1, 15, 16, 17, 31, 32, 33], texts: ['', 'x', 'single'] };

const BODIES_PER_PARSER = 3000;

/** A CBOR item of any type, with the sizes the parsers care about most often. */

/** Every array in `item`, nested ones included. */

/** Changes one spot of the decoded items of a valid body: replace, remove, repeat or append an item. */
function mutateTree(rng: Prng, body: Uint8Array): Uint8Array {
  const root = decodeCbor(Uint8Array.from(body));
  for (let n = 1 + rng.int(3); n > 0; n--) {
    const list = rng.pick(arraysIn(root));
    const at = rng.int(Math.max(1, list.length));
    switch (rng.int(4)) {
      case 0:
        list.splice(at, 1);
        break;
      case 1:
        if (list.length > 0) list.splice(at, 0, list[at]);
        break;
      case 2:
        list.push(randomItem(rng, POOLS, 0, 2));
        break;
      default:
        list[at] = randomItem(rng, POOLS, 0, 2);
    }
  }
  return Uint8Array.from(encodeCbor(root));
}

function mutateBytes(rng: Prng, body: Uint8Array): Uint8Array {
  const out = Buffer.from(body);
  switch (rng.int(4)) {
    case 0:
      for (let n = 1 + rng.int(8); n > 0; n--) out[rng.int(out.length)]! ^= 1 << rng.int(8);
      return Uint8Array.from(out);
    case 1: {
      const at = rng.int(out.length + 1);
      return Uint8Array.from(Buffer.concat([out.subarray(0, at), rng.bytes(1 + rng.int(9)), out.subarray(at)]));
    }
    case 2: {
      const at = rng.int(out.length);
      return Uint8Array.from(Buffer.concat([out.subarray(0, at), out.subarray(at + 1 + rng.int(9))]));
    }
    default:
      return Uint8Array.from(out.subarray(0, rng.int(out.length)));
  }
}

describe('storage codec fuzz', () => {
  it(`refuses ${CODECS.length * BODIES_PER_PARSER} random and mutated bodies with Invalid_Message only, and round-trips what it accepts`, function () {
    this.timeout(60_000);
    const seed = fuzzSeed();
    const rng = new Prng(seed);
    const samples = CODECS.map((c) => Uint8Array.from(c.encode(c.value as never)));
    let accepted = 0;
    for (const c of CODECS) {
      for (let i = 0; i < BODIES_PER_PARSER; i++) {
        // Mostly this parser's own body, sometimes another's: the shapes are close to each other.
        const sample = rng.chance(0.8) ? samples[CODECS.indexOf(c)]! : rng.pick(samples);
        const r = rng.next() % 10;
        const body = r === 0 ? rng.bytes(rng.int(64)) : r < 5 ? mutateBytes(rng, sample) : mutateTree(rng, sample);
        let decoded: unknown;
        try {
          decoded = c.decode(body);
        } catch (e) {
          const context = `seed ${seed}, ${c.name} #${i}, body ${Buffer.from(body).toString('hex').slice(0, 200)}`;
          expect(e, context).to.be.instanceOf(ReloadError);
          expect((e as ReloadError).code, `${context}: ${(e as Error).message}`).to.equal(ErrorCode.Invalid_Message);
          continue;
        }
        accepted++;
        expect(c.decode(Uint8Array.from(c.encode(decoded as never))), `seed ${seed}, ${c.name} #${i}`).to.deep.equal(decoded);
      }
    }
    // Some mutations leave a valid body (a flipped bit in a value, a repeated list entry).
    expect(accepted).to.be.greaterThan(0);
  });
});
