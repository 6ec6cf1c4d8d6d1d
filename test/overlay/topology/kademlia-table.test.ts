import { expect } from 'chai';
import { idFromBytes, idFromHex, idToHex, type Id } from '../../../overlay/id.js';
import { commonPrefixBits, compareXorDistance, idInBucket, KademliaTable, nearest } from '../../../overlay/topology/kademlia/kademlia-table.js';
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

  it('nearest picks the same ids in the same order as sorting all of them by XOR distance', () => {
    const rng = new Prng(fuzzSeed());
    for (let round = 0; round < 200; round++) {
      const ids = randomIds(rng, rng.int(151));
      const target = idFromBytes(rng.bytes(16));
      const count = rng.int(13);
      const sorted = [...ids].sort((a, b) => compareXorDistance(a, b, target)).slice(0, count);
      expect(nearest(ids, target, count).map(idToHex), `round ${round}: ${ids.length} ids, ${count} asked`).to.deep.equal(sorted.map(idToHex));
    }
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

describe('KademliaTable siblings and buckets', () => {
  const self = idFromHex('00'.repeat(16));

  it('ranks a teller\'s answer with what it knows, each node once: a new node among the closest is kept though the answer repeats known ones', () => {
    const table = new KademliaTable(self, { k: 8, pingCount: 3, siblingCount: 6 });
    const at = (b: number) => idFromHex(b.toString(16).padStart(2, '0') + '00'.repeat(15));
    const known = [0x01, 0x03, 0x0c, 0x0e, 0x10, 0x13, 0x40, 0x80].map(at);
    for (const id of known) table.add(id);
    // The answer a neighbour gives about us: us, six nodes we know, and 0x12, nearer than 0x13.
    const named = [self, ...known.slice(0, 5), at(0x12), known[5]!];
    expect(table.rankedAmongClosest(named, 8).map(idToHex)).to.deep.equal([self, ...known.slice(0, 5), at(0x12), known[5]!].map(idToHex));
    expect(table.rankedAmongClosest(named, 8).map(idToHex)).to.include(idToHex(at(0x12)));
    // A liar's answer of far nodes ranks none of them.
    expect(table.rankedAmongClosest([at(0xf0), at(0xf1)], 8)).to.deep.equal([]);
  });

  it('keeps the XOR-closest peers as siblings even when their bucket is full, and drops one a closer newcomer displaces', () => {
    const seed = fuzzSeed();
    const rng = new Prng(seed);
    // k = 2 and every peer in the far half (top bit set): one bucket that cannot split holds 2 of them.
    const far = randomIds(rng, 12).map((id) => {
      const b = Uint8Array.from(id);
      b[0]! |= 0x80;
      return b as Id;
    });
    const table = new KademliaTable(self, { k: 2, pingCount: 1, siblingCount: 3 });
    for (const id of far) table.add(id);
    const byDistance = [...far].sort((a, b) => compareXorDistance(a, b, self)).map(idToHex);
    expect(table.siblings().map(idToHex), `seed ${seed}`).to.deep.equal(byDistance.slice(0, 3));
    // The bucket's two and the siblings it refused: no more.
    expect(table.peers().length, `seed ${seed}`).to.be.at.most(2 + 3);
    for (const hex of byDistance.slice(0, 3)) expect(table.has(idFromHex(hex)), `seed ${seed}`).to.equal(true);
    // Responsibility near self follows the siblings: the closest peer owns ids next to it.
    expect(table.isResponsible(self)).to.equal(true);
    expect(idToHex(table.replicaSet(idFromHex(byDistance[0]!), 2)[0]!)).to.equal(byDistance[0]);
  });

  it('wouldKeep says what add would do, and the buckets cover the id space from the far half to the own one', () => {
    const seed = fuzzSeed();
    const rng = new Prng(seed);
    const table = new KademliaTable(idFromBytes(rng.bytes(16)), { k: 4, pingCount: 1, siblingCount: 2 });
    for (const id of randomIds(rng, 200)) {
      const predicted = table.wouldKeep(id);
      expect(table.add(id), `seed ${seed}`).to.equal(predicted);
    }
    const buckets = table.bucketList();
    // One far bucket per depth (the half without self at depth 1, then each half of the rest), and
    // the own bucket as deep as the deepest far one.
    const far = buckets.filter((b) => !b.own).map((b) => b.depth);
    expect(far, `seed ${seed}`).to.deep.equal(Array.from({ length: far.length }, (_, i) => i + 1));
    expect(buckets.filter((b) => b.own).map((b) => b.depth), `seed ${seed}`).to.deep.equal([far.length]);
    for (const b of buckets) {
      expect(b.contacts.length, `seed ${seed}`).to.be.at.most(4);
      // A random point drawn in a bucket falls in it: it shares the bucket's prefix.
      const point = idInBucket(b.prefix, b.depth, rng.bytes(16));
      for (const c of b.contacts) expect(prefixBitsByBit(c, point), `seed ${seed}`).to.be.at.least(b.depth);
    }
  });

  it('soleContacts names each peer that is the only contact in its range', () => {
    const self = idFromHex('00'.repeat(16));
    const table = new KademliaTable(self, { k: 8, pingCount: 1, siblingCount: 2 });
    const [a, b, c] = ['80' + '00'.repeat(15), 'c0' + '00'.repeat(15), '40' + '00'.repeat(15)].map(idFromHex) as [Id, Id, Id];
    // a and b share the range of ids with the first bit set; c is alone in the one with 01 first.
    for (const id of [a, b, c]) table.add(id);
    expect(table.soleContacts().map(idToHex)).to.deep.equal([idToHex(c)]);
    expect([a, b, c].map((id) => table.isSoleContact(id))).to.deep.equal([false, false, true]);
    table.remove(b);
    expect(table.soleContacts().map(idToHex).sort()).to.deep.equal([idToHex(a), idToHex(c)].sort());
  });

  it('ranges cover the id space beyond the closest peer even before any bucket splits', () => {
    const seed = fuzzSeed();
    const rng = new Prng(seed);
    const table = new KademliaTable(idFromBytes(rng.bytes(16)), { k: 8, pingCount: 1, siblingCount: 2 });
    const peers = randomIds(rng, 5);
    for (const p of peers) table.add(p);
    expect(table.bucketList(), `seed ${seed}`).to.have.length(1);
    const ranges = table.ranges();
    const closest = table.closest(table.self, 1)[0]!;
    expect(ranges.map((r) => r.depth), `seed ${seed}`).to.deep.equal(Array.from({ length: prefixBitsByBit(table.self, closest) + 1 }, (_, i) => i + 1));
    for (const r of ranges) {
      // A range at depth d: self's first d-1 bits, then the other value of bit d-1.
      expect(prefixBitsByBit(r.prefix, table.self), `seed ${seed}`).to.equal(r.depth - 1);
      expect(commonPrefixBits(r.prefix, table.self), `seed ${seed}`).to.equal(r.depth - 1);
    }
    // Every other node falls in exactly one range.
    for (const p of peers) expect(ranges.filter((r) => prefixBitsByBit(p, r.prefix) >= r.depth), `seed ${seed}`).to.have.length(1);
  });
});

/** The definition, bit by bit, to check the table's byte-wise one against. */
function prefixBitsByBit(a: Uint8Array, b: Uint8Array): number {
  for (let bit = 0; bit < 128; bit++) if ((a[bit >> 3]! ^ b[bit >> 3]!) & (0x80 >> (bit & 7))) return bit;
  return 128;
}
