import { expect } from 'chai';
import { VirtualClock } from '../../../overlay/clock.js';
import { ErrorCode, ReloadError } from '../../../overlay/errors.js';
import { idToHex, randomId, type Id } from '../../../overlay/id.js';
import { silentLogger } from '../../../overlay/log.js';
import { Replicator, REPLICATION_CONCURRENCY, type ReplicatorHost } from '../../../overlay/storage/replicator.js';
import type { StoreRequest } from '../../../overlay/storage/types.js';

/** One node's replicator over a source holding `resources`, with the host's answers in the test's hands. */
function setup(resources: Id[], host: Partial<ReplicatorHost>) {
  const held = new Set(resources.map(idToHex));
  const source = {
    resources: () => resources.filter((r) => held.has(idToHex(r))),
    exportResource: (resource: Id, replicaNumber: number): StoreRequest | undefined =>
      held.has(idToHex(resource)) ? { resource, replicaNumber, kinds: [{ kindId: 1, generation: 3n, values: [] }], certificates: [] } : undefined,
    drop: (resource: Id) => held.delete(idToHex(resource)),
  };
  const replicator = new Replicator(source, {
    self: randomId(),
    clock: new VirtualClock(),
    log: silentLogger,
    syncIntervalMs: 1000,
    replicaSet: () => [],
    push: async () => {},
    heldByResponsible: async () => false,
    sweep: () => {},
    ...host,
  });
  return { replicator, held };
}

describe('storage/replicator', () => {
  const notASource = () => Promise.reject(new ReloadError(ErrorCode.Forbidden, 'not in the replica set', 'not_a_replica_source'));

  it('a copy held outside the replica set, whose members refuse it, is dropped once the responsible peer holds the same generation', async () => {
    const resource = randomId();
    const asked: StoreRequest[] = [];
    const { replicator, held } = setup([resource], {
      replicaSet: () => [randomId(), randomId(), randomId()],
      push: notASource,
      heldByResponsible: async (_r, request) => (asked.push(request), true),
    });
    await replicator.replicate(resource);
    expect(held.size).to.equal(0);
    expect(asked.map((r) => r.kinds.map((k) => k.generation))).to.deep.equal([[3n]]);
  });

  it('is kept while the responsible peer does not hold it, or cannot be asked', async () => {
    const resource = randomId();
    for (const heldByResponsible of [async () => false, () => Promise.reject(new Error('Request_Timeout'))]) {
      const { replicator, held } = setup([resource], { replicaSet: () => [randomId(), randomId()], push: notASource, heldByResponsible });
      await replicator.replicate(resource);
      expect(held.size).to.equal(1);
    }
  });

  it('a copy inside the replica set is never dropped, whatever the responsible peer says', async () => {
    const resource = randomId();
    const self = randomId();
    const { replicator, held } = setup([resource], { self, replicaSet: () => [randomId(), self], push: notASource, heldByResponsible: async () => true });
    await replicator.replicate(resource);
    expect(held.size).to.equal(1);
  });

  it('the copies of a new store go out before those of a periodic check already queued', async () => {
    const many = Array.from({ length: 4 * REPLICATION_CONCURRENCY }, () => randomId());
    const stored = randomId();
    const order: string[] = [];
    const releases: (() => void)[] = [];
    const { replicator } = setup([...many, stored], {
      replicaSet: (r) => [r === stored ? stored : r],
      push: (peer) => {
        order.push(idToHex(peer));
        return new Promise<void>((resolve) => releases.push(resolve));
      },
    });
    replicator.changed();
    await new Promise((r) => setImmediate(r));
    expect(order).to.have.length(REPLICATION_CONCURRENCY);
    const storing = replicator.replicate(stored, true);
    releases.shift()!();
    await new Promise((r) => setImmediate(r));
    expect(order.at(-1), 'the store\'s copy is next').to.equal(idToHex(stored));
    while (releases.length > 0) {
      releases.shift()!();
      await new Promise((r) => setImmediate(r));
    }
    await storing;
    await replicator.settled();
  });
});
