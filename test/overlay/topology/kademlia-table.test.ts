import { expect } from 'chai';
import { idFromHex, idToHex, type Id } from '../../../overlay/id.js';
import { compareXorDistance, KademliaTable } from '../../../overlay/topology/kademlia/kademlia-table.js';
import { fuzzSeed, Prng } from '../../helpers/prng.js';
import { describeRoutingTableCompliance, randomIds } from './routing-table-compliance.js';

const K = 20;

describeRoutingTableCompliance('KademliaTable', (self) => new KademliaTable(self, { k: K, pingCount: 3 }));

describe('KademliaTable', () => {
  it('orders by XOR distance over all 128 bits: ids that differ only in the last bit are not tied', () => {
    const target = idFromHex('00'.repeat(16));
    const a = idFromHex('00'.repeat(15) + '01');
    const b = idFromHex('00'.repeat(15) + '02');
    // A 53-bit number distance (k-bucket's default folds the bytes) could not tell these apart.
    const farA = idFromHex('ff'.repeat(15) + '01');
    const farB = idFromHex('ff'.repeat(15) + '02');
    expect(compareXorDistance(a, b, target)).to.be.lessThan(0);
    expect(compareXorDistance(farA, farB, target)).to.be.lessThan(0);
    expect(compareXorDistance(farB, farA, target)).to.be.greaterThan(0);
    expect(compareXorDistance(a, a, target)).to.equal(0);
    const table = new KademliaTable(target, { k: K, pingCount: 3 });
    table.add(farB);
    table.add(farA);
    expect(idToHex(table.nextHop(idFromHex('ff'.repeat(15) + '00'))!)).to.equal(idToHex(farA));
    expect(idToHex(table.nextHop(idFromHex('ff'.repeat(15) + '03'))!)).to.equal(idToHex(farB));
  });

  it('a full bucket refuses a newcomer and names its oldest contacts to ping (ping-before-evict)', () => {
    const seed = fuzzSeed();
    const self = idFromHex('00'.repeat(16));
    const pinged: { oldest: string[]; newcomer: string }[] = [];
    const table = new KademliaTable(self, { k: 4, pingCount: 2, onFullBucket: (oldest, newcomer) => pinged.push({ oldest: oldest.map(idToHex), newcomer: idToHex(newcomer) }) });
    // Ids with the top bit set all fall in the one bucket farthest from self, which cannot split.
    const far = randomIds(new Prng(seed), 6).map((id) => {
      const b = Uint8Array.from(id);
      b[0]! |= 0x80;
      return b as Id;
    });
    const added = far.map((id) => table.add(id));
    expect(added, `seed ${seed}`).to.deep.equal([true, true, true, true, false, false]);
    expect(pinged, `seed ${seed}`).to.have.length(2);
    expect(pinged[0], `seed ${seed}`).to.deep.equal({ oldest: far.slice(0, 2).map(idToHex), newcomer: idToHex(far[4]!) });
    // Once an old contact is gone (it failed its ping), the newcomer fits.
    expect(table.remove(far[0]!)).to.equal(true);
    expect(table.add(far[4]!)).to.equal(true);
    expect(table.peers().map(idToHex).sort()).to.deep.equal([...far.slice(1, 5)].map(idToHex).sort());
  });
});
