/**
 * RingTruth is the ground truth the multi-node tests and the simulator check against, so it is
 * checked here against the definition itself: the responsible node is the one at the smallest
 * clockwise distance from the key (RFC 6940 §10.1), computed by brute force over every member.
 */
import { expect } from 'chai';
import { idFromHex, idToHex, ringDistance, type Id } from '../../overlay/id.js';
import { seededRandom } from '../../overlay/random.js';
import { RingTruth } from '../../scripts/local-ring.js';

function bruteResponsible(members: Id[], key: Id): string {
  let best = members[0]!;
  for (const m of members) if (ringDistance(key, m) < ringDistance(key, best)) best = m;
  return idToHex(best);
}

describe('RingTruth (ground truth for multi-node tests and the simulator)', () => {
  it('names the responsible node and its neighbours as brute force does, as members come and go', () => {
    const random = seededRandom(7);
    const members = Array.from({ length: 60 }, () => random.bytes(16) as Id);
    const truth = new RingTruth(members);
    for (let round = 0; round < 40; round++) {
      // Keys: random, exactly a member, and one past a member (owned by the next).
      const member = members[Math.floor(random.next() * members.length)]!;
      for (const key of [random.bytes(16) as Id, member]) expect(truth.responsible(key)).to.equal(bruteResponsible(members, key));
      const sorted = members.map(idToHex).sort();
      const i = sorted.indexOf(idToHex(member));
      expect(truth.successors(member, 2)).to.deep.equal([sorted[(i + 1) % sorted.length], sorted[(i + 2) % sorted.length]]);
      expect(truth.predecessors(member, 1)).to.deep.equal([sorted[(i - 1 + sorted.length) % sorted.length]]);
      if (round % 2 === 0) {
        const gone = members.splice(Math.floor(random.next() * members.length), 1)[0]!;
        truth.remove(gone);
        expect(() => truth.successors(gone, 1)).to.throw(RangeError, /not in this ring/);
      } else {
        const added = random.bytes(16) as Id;
        members.push(added);
        truth.add(added);
        truth.add(added);
      }
      expect(truth.size).to.equal(members.length);
    }
  });

  it('wraps round: a key after the largest member belongs to the smallest', () => {
    const low = idFromHex('01'.repeat(16));
    const high = idFromHex('f0'.repeat(16));
    const truth = new RingTruth([high, low]);
    expect(truth.responsible(idFromHex('ff'.repeat(16)))).to.equal(idToHex(low));
    expect(truth.responsible(idFromHex('02'.repeat(16)))).to.equal(idToHex(high));
    expect(() => new RingTruth([]).responsible(low)).to.throw(RangeError);
  });
});
