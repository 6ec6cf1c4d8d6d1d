/**
 * XorTruth is Kademlia's ground truth for the multi-node tests and the simulator, so it is checked
 * against the definition itself, by brute force over every member: the responsible node is the one
 * at the smallest XOR distance from the key, the siblings the nearest others.
 */
import { expect } from 'chai';
import { idToHex, xorDistance, type Id } from '../../overlay/id.js';
import { seededRandom } from '../../overlay/random.js';
import { XorTruth } from '../../scripts/topology-truth.js';

/** Members by XOR distance from `key`, as hex (distances compare as fixed-length hex strings). */
const byDistance = (members: Id[], key: Id) => [...members].sort((a, b) => (idToHex(xorDistance(a, key)) < idToHex(xorDistance(b, key)) ? -1 : 1)).map(idToHex);

describe('XorTruth (Kademlia ground truth for multi-node tests and the simulator)', () => {
  it('names the responsible node, the replica set and the siblings as brute force does, as members come and go', () => {
    const random = seededRandom(11);
    const members = Array.from({ length: 80 }, () => random.bytes(16) as Id);
    const truth = new XorTruth(members);
    for (let round = 0; round < 60; round++) {
      const member = members[Math.floor(random.next() * members.length)]!;
      // Keys: random, exactly a member, and a member with its last bit flipped (shares 127 bits).
      const flipped = Uint8Array.from(member) as Id;
      flipped[15]! ^= 1;
      for (const key of [random.bytes(16) as Id, member, flipped]) {
        expect(truth.responsible(key)).to.equal(byDistance(members, key)[0]);
        expect(truth.replicaSet(key, 3)).to.deep.equal(byDistance(members, key).slice(0, 3));
      }
      const want = byDistance(members, member).slice(1, 4);
      expect(truth.neighbourhoodError({ nodeId: idToHex(member), state: 'joined', siblings: want }, 3)).to.equal(undefined);
      expect(truth.neighbourhoodError({ nodeId: idToHex(member), state: 'joined', siblings: [...want].reverse() }, 3)).to.match(/siblings/);
      if (round % 2 === 0) {
        const gone = members.splice(Math.floor(random.next() * members.length), 1)[0]!;
        truth.remove(gone);
      } else {
        const id = random.bytes(16) as Id;
        members.push(id);
        truth.add(id);
      }
      expect(truth.size).to.equal(members.length);
    }
  });

  it('with k-buckets in the view, also names each range that holds nodes but none of its contacts', () => {
    // Self 0000…, and one node in each of the ranges sharing 0, 1 and 2 bits of prefix with it.
    const id = (firstByte: number) => idToHex(Uint8Array.from([firstByte, ...new Array<number>(15).fill(0)]) as Id);
    const [self, far, mid, near, nearer] = [id(0x00), id(0x80), id(0x40), id(0x20), id(0x21)];
    const truth = new XorTruth([self, far, mid, near, nearer].map((h) => Uint8Array.from(Buffer.from(h, 'hex')) as Id));
    const siblings = [near, nearer];
    const view = (contacts: string[]) => ({ nodeId: self, state: 'joined', siblings, buckets: [{ contacts }] });
    expect(truth.neighbourhoodError(view([far, mid]), 2)).to.equal(undefined);
    expect(truth.neighbourhoodError(view([far]), 2)).to.match(/knows nobody in the range\(s\) at prefix length 1,/);
    expect(truth.neighbourhoodError(view([]), 2)).to.match(/prefix length 0, 1,/);
    // Without buckets (Chord's view, or a node that does not say) only the siblings are checked.
    expect(truth.neighbourhoodError({ nodeId: self, state: 'joined', siblings }, 2)).to.equal(undefined);
  });
});
