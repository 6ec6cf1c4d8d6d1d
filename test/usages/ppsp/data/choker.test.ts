import { expect } from 'chai';
import { Choker, DEFAULT_UPLOAD_SLOTS, type ChokeChange, type PeerRates } from '../../../../usages/ppsp/data/choker.js';
import { Prng } from '../../../helpers/prng.js';

const rngOf = (prng: Prng) => () => prng.next() / 0x1_0000_0000;
const rates = (entries: [string, Partial<PeerRates>][]) => new Map(entries.map(([p, r]) => [p, { fromPeer: 0, toPeer: 0, ...r }]));
const NO_RATES = { rates: new Map<string, PeerRates>(), seeding: false };

/** Applies changes in order, as the peers would see them, asserting no moment exceeds `slots`. */
function apply(state: Set<string>, changes: ChokeChange<string>[], slots: number): void {
  for (const c of changes) {
    if (c.message === 'unchoke') state.add(c.peer);
    else state.delete(c.peer);
    expect(state.size, JSON.stringify(changes)).to.be.at.most(slots);
  }
}

describe('Choker', () => {
  it('unchokes requesters while slots are free and answers CHOKE once they are all busy', () => {
    const choker = new Choker({ slots: 2 });
    expect(choker.interested('a')).to.deep.equal([{ peer: 'a', message: 'unchoke' }]);
    expect(choker.interested('b')).to.deep.equal([{ peer: 'b', message: 'unchoke' }]);
    expect(choker.interested('c')).to.deep.equal([{ peer: 'c', message: 'choke' }]);
    // Asking again while choked gets the same answer; asking while unchoked gets nothing.
    expect(choker.interested('c')).to.deep.equal([{ peer: 'c', message: 'choke' }]);
    expect(choker.interested('a')).to.deep.equal([]);
    expect(choker.unchoked()).to.deep.equal(['a', 'b']);
    expect(new Choker().slots).to.equal(DEFAULT_UPLOAD_SLOTS);
  });

  it('gives a freed slot at once to the peer waiting longest', () => {
    const choker = new Choker({ slots: 2 });
    for (const p of ['a', 'b', 'c', 'd']) choker.interested(p);
    expect(choker.notInterested('a')).to.deep.equal([{ peer: 'a', message: 'choke' }, { peer: 'c', message: 'unchoke' }]);
    expect(choker.peerGone('b')).to.deep.equal([{ peer: 'd', message: 'unchoke' }]);
    expect(choker.peerGone('x')).to.deep.equal([]);
    expect(choker.notInterested('nobody')).to.deep.equal([]);
    expect(choker.peerGone('c')).to.deep.equal([]);
    expect(choker.unchoked()).to.deep.equal(['d']);
  });

  it('2 slots, 6 requesters: exactly 2 unchoked at a time and every one served over successive rounds', () => {
    for (const seeding of [true, false]) {
      for (const optimisticPeriods of [1, 3]) {
        const prng = new Prng(42);
        const choker = new Choker({ slots: 2, optimisticPeriods, rng: rngOf(prng) });
        const peers = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'];
        const state = new Set<string>();
        const served = new Set<string>();
        const choked = new Set<string>();
        for (const p of peers) {
          const changes = choker.interested(p);
          if (changes[0]!.message === 'choke') choked.add(p);
          apply(state, changes, 2);
        }
        expect(choked.size).to.equal(4);
        let rounds = 0;
        for (; served.size < peers.length && rounds < 50; rounds++) {
          // A seeder measures its upload to the unchoked; a leecher what those peers send back.
          const r = rates([...state].map((p) => [p, { toPeer: 1000 + prng.int(1000), fromPeer: prng.int(100) }]));
          apply(state, choker.rechoke(rounds * 10_000, { rates: r, seeding }), 2);
          expect(state.size).to.equal(2);
          expect(new Set(choker.unchoked())).to.deep.equal(state);
          for (const p of state) served.add(p);
        }
        expect(served.size, `seeding ${seeding}, rotation every ${optimisticPeriods}`).to.equal(6);
        // Round-robin among the waiting: 4 rotations serve the 4 choked peers.
        expect(rounds).to.be.at.most(4 * optimisticPeriods + 1);
      }
    }
  });

  it('keeps the slots - 1 best contributors unchoked, plus one optimistic', () => {
    const choker = new Choker({ slots: 4, optimisticPeriods: 3, rng: rngOf(new Prng(5)) });
    const peers = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    for (const p of peers) choker.interested(p);
    const contribution = rates([['a', { fromPeer: 10 }], ['b', { fromPeer: 500 }], ['c', { fromPeer: 0 }], ['d', { fromPeer: 300 }], ['e', { fromPeer: 900 }], ['f', { fromPeer: 20 }], ['g', { fromPeer: 1 }]]);
    const state = new Set(choker.unchoked());
    apply(state, choker.rechoke(0, { rates: contribution, seeding: false }), 4);
    const optimistic = choker.optimisticPeer!;
    expect(['a', 'c', 'f', 'g']).to.include(optimistic);
    expect(new Set(choker.unchoked())).to.deep.equal(new Set(['e', 'b', 'd', optimistic]));
    // The optimistic slot stays for optimisticPeriods periods while the regular slots follow the rates.
    const climber = ['a', 'c', 'f', 'g'].find((p) => p !== optimistic)!;
    const shifted = rates([[climber, { fromPeer: 1000 }], ['e', { fromPeer: 900 }], ['b', { fromPeer: 500 }], ['d', { fromPeer: 1 }]]);
    expect(choker.rechoke(10_000, { rates: shifted, seeding: false })).to.deep.equal([
      { peer: 'd', message: 'choke' },
      { peer: climber, message: 'unchoke' },
    ]);
    expect(choker.optimisticPeer).to.equal(optimistic);
    expect(choker.unchoked()).to.have.members([climber, 'e', 'b', optimistic]);
  });

  it('a seeder ranks by its own upload rate, a leecher by what it receives', () => {
    const choker = new Choker({ slots: 3, rng: () => 0 });
    for (const p of ['a', 'b', 'c', 'd']) choker.interested(p);
    const r = rates([['a', { toPeer: 900, fromPeer: 1 }], ['b', { toPeer: 1, fromPeer: 900 }], ['c', { toPeer: 800, fromPeer: 2 }], ['d', { toPeer: 2, fromPeer: 800 }]]);
    const state = new Set(choker.unchoked());
    apply(state, choker.rechoke(0, { rates: r, seeding: true }), 3);
    expect(choker.unchoked().filter((p) => p !== choker.optimisticPeer)).to.have.members(['a', 'c']);
    const leecher = new Choker({ slots: 3, rng: () => 0 });
    for (const p of ['a', 'b', 'c', 'd']) leecher.interested(p);
    leecher.rechoke(0, { rates: r, seeding: false });
    expect(leecher.unchoked().filter((p) => p !== leecher.optimisticPeer)).to.have.members(['b', 'd']);
  });

  it('rotates the optimistic slot every optimisticPeriods periods, never-served peers first', () => {
    const choker = new Choker({ slots: 1, optimisticPeriods: 2, rng: () => 0 });
    for (const p of ['a', 'b', 'c']) choker.interested(p);
    expect(choker.unchoked()).to.deep.equal(['a']);
    const seen: (string | undefined)[] = [];
    for (let i = 0; i < 8; i++) {
      choker.rechoke(i * 10_000, NO_RATES);
      seen.push(choker.optimisticPeer);
      expect(choker.unchoked()).to.deep.equal([choker.optimisticPeer]);
    }
    // a held the slot first, so b and c come before a again; each keeps it for 2 periods.
    expect(seen).to.deep.equal(['b', 'b', 'c', 'c', 'a', 'a', 'b', 'b']);
  });

  it('with fewer interested peers than slots, all are unchoked and nothing rotates away', () => {
    const choker = new Choker({ slots: 4 });
    choker.interested('a');
    choker.interested('b');
    expect(choker.rechoke(0, NO_RATES)).to.deep.equal([]);
    expect(choker.unchoked()).to.have.members(['a', 'b']);
    choker.notInterested('a');
    expect(choker.rechoke(10_000, NO_RATES)).to.deep.equal([]);
    expect(choker.unchoked()).to.deep.equal(['b']);
  });

  it('refuses nonsense options', () => {
    expect(() => new Choker({ slots: 0 })).to.throw(RangeError);
    expect(() => new Choker({ optimisticPeriods: 0 })).to.throw(RangeError);
  });
});
