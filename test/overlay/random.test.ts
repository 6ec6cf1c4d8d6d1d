import { expect } from 'chai';
import { seededRandom, systemRandom } from '../../overlay/random.js';
import { newTransactionId } from '../../overlay/wire/codec.js';

describe('Random', () => {
  it('a seeded source repeats its draws for the same seed, and only for it', () => {
    const draws = (seed: number) => {
      const r = seededRandom(seed);
      return [r.next(), r.next(), ...r.bytes(8), newTransactionId(r)];
    };
    expect(draws(42)).to.deep.equal(draws(42));
    expect(draws(42)).to.not.deep.equal(draws(43));
    const r = seededRandom(1);
    const values = Array.from({ length: 10_000 }, () => r.next());
    expect(values.every((v) => v >= 0 && v < 1)).to.equal(true);
    const mean = values.reduce((a, b) => a + b) / values.length;
    expect(mean).to.be.within(0.48, 0.52);
    expect(r.bytes(1000).every((b) => b >= 0 && b <= 255)).to.equal(true);
  });

  it('the system source draws from node:crypto: no two transaction ids alike in 1,000', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newTransactionId(systemRandom)));
    expect(ids.size).to.equal(1000);
    const v = systemRandom.next();
    expect(v >= 0 && v < 1).to.equal(true);
  });
});
