/**
 * The properties every RoutingTable must have whatever its topology (STYLE principle 8): the Chord
 * table runs this suite now, a Kademlia table will run it later. Rings are random Node-IDs from a
 * seeded PRNG; every assertion message names the seed (replay with FUZZ_SEED=<seed>).
 */
import { expect } from 'chai';
import { idFromBytes, ID_BYTES, idToHex, type Id } from '../../../overlay/id.js';
import type { RoutingTable } from '../../../overlay/topology/routing-table.js';
import { fuzzSeed, Prng } from '../../helpers/prng.js';

/** `count` distinct random ids. */
export function randomIds(rng: Prng, count: number): Id[] {
  const byHex = new Map<string, Id>();
  while (byHex.size < count) {
    const id = idFromBytes(rng.bytes(ID_BYTES));
    byHex.set(idToHex(id), id);
  }
  return [...byHex.values()];
}

/** A shuffled copy (Fisher–Yates). */
export function shuffled<T>(rng: Prng, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** One table per id, each fed every other id in its own random order. */
export function fullKnowledgeTables<T extends RoutingTable>(rng: Prng, ids: readonly Id[], make: (self: Id) => T): Map<string, T> {
  const tables = new Map<string, T>();
  for (const self of ids) {
    const table = make(self);
    for (const peer of shuffled(rng, ids)) table.add(peer);
    tables.set(idToHex(self), table);
  }
  return tables;
}

const RING_SIZES = [2, 3, 7, 64];
const KEYS_PER_RING = 100;
/** Lookups start from this many nodes of each ring (all of a small ring; the ids are random, so any 16 are a sample). */
const MAX_STARTS = 16;

/** Registers the compliance suite for one RoutingTable implementation. */
export function describeRoutingTableCompliance(name: string, make: (self: Id) => RoutingTable): void {
  describe(`${name}: RoutingTable compliance`, () => {
    it('a lone node is responsible for every id, has no next hop and is its own replica set', () => {
      const seed = fuzzSeed();
      const [self, other] = randomIds(new Prng(seed), 2) as [Id, Id];
      const table = make(self);
      expect(table.isResponsible(other), `seed ${seed}`).to.equal(true);
      expect(table.isResponsible(self), `seed ${seed}`).to.equal(true);
      expect(table.nextHop(other), `seed ${seed}`).to.equal(undefined);
      expect(table.replicaSet(other, 3).map(idToHex), `seed ${seed}`).to.deep.equal([idToHex(self)]);
      expect(table.peers(), `seed ${seed}`).to.deep.equal([]);
    });

    it('ignores its own id; add and remove are idempotent', () => {
      const seed = fuzzSeed();
      const [self, peer] = randomIds(new Prng(seed), 2) as [Id, Id];
      const table = make(self);
      expect(table.add(self), `seed ${seed}`).to.equal(false);
      expect(table.has(self), `seed ${seed}`).to.equal(false);
      expect(table.add(peer), `seed ${seed}`).to.equal(true);
      expect(table.add(idFromBytes(peer)), `a copy of a known id, seed ${seed}`).to.equal(false);
      expect(table.peers().map(idToHex), `seed ${seed}`).to.deep.equal([idToHex(peer)]);
      expect(table.remove(peer), `seed ${seed}`).to.equal(true);
      expect(table.remove(peer), `seed ${seed}`).to.equal(false);
      expect(table.remove(self), `seed ${seed}`).to.equal(false);
      expect(table.has(peer), `seed ${seed}`).to.equal(false);
    });

    for (const n of RING_SIZES) {
      describe(`a ${n}-node ring with full knowledge`, () => {
        let seed: number;
        let ids: Id[];
        let tables: Map<string, RoutingTable>;
        let keys: Id[];
        before(() => {
          seed = fuzzSeed();
          const rng = new Prng(seed);
          ids = randomIds(rng, n);
          tables = fullKnowledgeTables(rng, ids, make);
          // Keys: random ids, and the node ids themselves (the boundary of each node's range).
          keys = [...randomIds(rng, KEYS_PER_RING), ...ids];
        });
        const responsibleFor = (key: Id): RoutingTable[] => [...tables.values()].filter((t) => t.isResponsible(key));

        it('exactly one node is responsible for each id', () => {
          for (const key of keys) {
            expect(responsibleFor(key), `key ${idToHex(key)}, seed ${seed}`).to.have.length(1);
          }
        });

        it('peers() lists kept peers once each, never self', () => {
          for (const table of tables.values()) {
            const peers = table.peers().map(idToHex);
            expect(new Set(peers).size, `seed ${seed}`).to.equal(peers.length);
            expect(peers, `seed ${seed}`).not.to.include(idToHex(table.self));
            for (const peer of table.peers()) expect(table.has(peer), `seed ${seed}`).to.equal(true);
          }
        });

        it('nextHop gives a kept peer, never self, and routing reaches the responsible node in < N hops without loops', () => {
          for (const key of keys) {
            const owner = idToHex(responsibleFor(key)[0]!.self);
            for (const start of ids.slice(0, MAX_STARTS)) {
              let table = tables.get(idToHex(start))!;
              const visited = new Set([idToHex(start)]);
              while (!table.isResponsible(key)) {
                const next = table.nextHop(key);
                const where = `from ${idToHex(start)} to ${idToHex(key)} at ${idToHex(table.self)}, seed ${seed}`;
                expect(next, where).not.to.equal(undefined);
                expect(idToHex(next!), where).not.to.equal(idToHex(table.self));
                expect(table.has(next!), where).to.equal(true);
                expect(visited.has(idToHex(next!)), `loop ${where}`).to.equal(false);
                visited.add(idToHex(next!));
                table = tables.get(idToHex(next!))!;
              }
              expect(idToHex(table.self), `seed ${seed}`).to.equal(owner);
              expect(visited.size - 1, `hops, seed ${seed}`).to.be.lessThan(n);
            }
          }
        });

        it('nextHops starts with nextHop and names distinct kept peers; compareOwners ranks the responsible node first', () => {
          for (const key of keys) {
            const owner = responsibleFor(key)[0]!.self;
            for (const table of [...tables.values()].slice(0, MAX_STARTS)) {
              const hops = table.nextHops(key, 4).map(idToHex);
              const where = `at ${idToHex(table.self)} to ${idToHex(key)}, seed ${seed}`;
              expect(hops.slice(0, 1), where).to.deep.equal(table.nextHop(key) ? [idToHex(table.nextHop(key)!)] : []);
              expect(hops.length, where).to.equal(Math.min(4, table.peers().length));
              expect(new Set(hops).size, where).to.equal(hops.length);
              for (const h of hops) expect(h, where).not.to.equal(idToHex(table.self));
              if (idToHex(table.self) !== idToHex(owner)) expect(table.compareOwners(owner, table.self, key), where).to.be.lessThan(0);
              expect(table.compareOwners(owner, owner, key), where).to.equal(0);
            }
          }
        });

        it('replicaSet starts with the responsible node, without duplicates, from known nodes only', () => {
          for (const key of keys) {
            const owner = responsibleFor(key)[0]!;
            for (const count of [1, 3, n + 2]) {
              const replicas = owner.replicaSet(key, count).map(idToHex);
              expect(replicas[0], `seed ${seed}`).to.equal(idToHex(owner.self));
              expect(replicas, `seed ${seed}`).to.have.length(Math.min(count, owner.peers().length + 1));
            }
            for (const table of tables.values()) {
              const replicas = table.replicaSet(key, 3);
              const hexes = replicas.map(idToHex);
              expect(new Set(hexes).size, `seed ${seed}`).to.equal(hexes.length);
              for (const r of replicas) expect(idToHex(r) === idToHex(table.self) || table.has(r), `seed ${seed}`).to.equal(true);
            }
          }
        });
      });
    }
  });
}
