import { expect } from 'chai';
import { fuzzSeed } from './prng.js';

describe('test helpers: FUZZ_SEED', () => {
  it('replays the seed given, draws one when unset, and refuses one that is not a u32', () => {
    expect(fuzzSeed({ FUZZ_SEED: '20261125' })).to.equal(20261125);
    expect(fuzzSeed({ FUZZ_SEED: '4294967295' })).to.equal(4294967295);
    const drawn = fuzzSeed({});
    expect(Number.isInteger(drawn) && drawn >= 0 && drawn <= 0xffffffff).to.equal(true);
    for (const bad of ['abc', '-1', '1.5', '4294967296', '0x10', ' 7']) expect(() => fuzzSeed({ FUZZ_SEED: bad }), bad).to.throw(RangeError, 'FUZZ_SEED must be');
  });
});
