import { expect } from 'chai';
import { ErrorCode } from '../../../overlay/errors.js';
import { idToHex } from '../../../overlay/id.js';
import { userResource } from '../../../overlay/storage/access-control.js';
import { decodeStoreReq, encodeStoreReq } from '../../../overlay/storage/codec.js';
import { verifyStoredData } from '../../../overlay/storage/data-signature.js';
import { statCovers } from '../../../overlay/storage/kind-slot.js';
import { ARRAY_APPEND, type StoredDataSpecifier } from '../../../overlay/storage/types.js';
import { expectReloadError } from '../../helpers/expect-reload-error.js';
import { entry, HASH, keyed, KINDS, peer, setup, signed, single, snapshot, storeReq, type Setup } from './fixture.js';

describe('StorageEngine replication and fetcher-side verification', () => {
  let s: Setup;
  beforeEach(async () => {
    s = await setup();
  });

  /** alice's value, list (with a tombstone) and dictionary at H(alice); bob's value at H(bob). */
  function fill(): void {
    const { alice, aliceAt } = s;
    const k = KINDS;
    s.engine.store(
      storeReq(
        aliceAt,
        [
          { kindId: k.userValue.id, values: [signed(alice, aliceAt, k.userValue.id, single('v'), { lifetimeSec: 100 })] },
          { kindId: k.userList.id, values: ['a', 'b', 'c'].map((t) => signed(alice, aliceAt, k.userList.id, entry(ARRAY_APPEND, t), { lifetimeSec: 200 })) },
          { kindId: k.userDict.id, values: [signed(alice, aliceAt, k.userDict.id, keyed('x', 'X'), { lifetimeSec: 300 })] },
        ],
        [alice],
      ),
      peer(s.pki, alice),
    );
    s.clock.advance(1500);
    s.engine.store(storeReq(aliceAt, [{ kindId: k.userList.id, values: [signed(alice, aliceAt, k.userList.id, entry(1, undefined), { at: 1, lifetimeSec: 10 })] }], [alice]), peer(s.pki, alice));
    const bobAt = userResource(s.bob.user, HASH);
    s.engine.store(storeReq(bobAt, [{ kindId: k.userValue.id, values: [signed(s.bob, bobAt, k.userValue.id, single('bob'))] }], [s.bob]), peer(s.pki, s.bob));
  }

  it('an exported resource stored into another engine (through the codec) fetches and stats identically', async () => {
    fill();
    s.clock.advance(30_700);
    const replica = await setup();
    replica.clock.advance(s.clock.now() - replica.clock.now());
    for (const resource of s.engine.resources()) {
      const exported = s.engine.exportResource(resource, 1)!;
      expect(exported.replicaNumber).to.equal(1);
      const received = decodeStoreReq(Uint8Array.from(encodeStoreReq(exported)), 1 << 20);
      replica.engine.store(received, peer(s.pki, s.carol));
    }
    // Fetch answers, byte and value totals alike; stat too.
    for (const resource of s.engine.resources()) {
      expect(snapshot(replica, resource)).to.deep.equal(snapshot(s, resource));
      const specs: StoredDataSpecifier[] = [{ kindId: KINDS.userList.id, generation: 0n, selector: { model: 'array', ranges: [] } }];
      expect(replica.engine.stat(resource, specs)).to.deep.equal(s.engine.stat(resource, specs));
    }
    expect(replica.engine.resources().map(idToHex).sort()).to.deep.equal(s.engine.resources().map(idToHex).sort());
  });

  it('exports remaining lifetimes and current generations, and a second export refreshes the replica without changes', async () => {
    fill();
    s.clock.advance(40_000);
    const exported = s.engine.exportResource(s.aliceAt, 2)!;
    const lifetimes = Object.fromEntries(exported.kinds.map((k) => [k.kindId, k.values.map((v) => v.lifetimeSec)]));
    expect(lifetimes).to.deep.equal({
      [KINDS.userValue.id]: [58],
      [KINDS.userList.id]: [158, 158, 158],
      [KINDS.userDict.id]: [258],
    });
    expect(exported.kinds.map((k) => k.generation)).to.deep.equal([1n, 2n, 1n]);
    const replica = await setup();
    replica.clock.advance(s.clock.now() - replica.clock.now());
    replica.engine.store(exported, peer(s.pki, s.carol));
    const before = snapshot(replica, s.aliceAt);
    replica.engine.store(s.engine.exportResource(s.aliceAt, 2)!, peer(s.pki, s.carol));
    expect(snapshot(replica, s.aliceAt)).to.deep.equal(before);
  });

  it('a peer with a higher generation but without one of our dictionary keys does not cover our copy; after our replica it does', async () => {
    const dict = (who: Setup) => who.engine.stat(s.aliceAt, [{ kindId: KINDS.userDict.id, generation: 0n, selector: { model: 'dictionary', keys: [] } }])[0]!;
    const value = (key: string, at: number) => signed(s.alice, s.aliceAt, KINDS.userDict.id, keyed(key, key), { at });
    s.engine.store(storeReq(s.aliceAt, [{ kindId: KINDS.userDict.id, values: [value('source', 1)] }], [s.alice]), peer(s.pki, s.alice));
    const other = await setup();
    for (const [i, key] of ['v1', 'v2', 'v3'].entries()) other.engine.store(storeReq(s.aliceAt, [{ kindId: KINDS.userDict.id, values: [value(key, 2 + i)] }], [s.alice]), peer(s.pki, s.alice));
    const ours = s.engine.exportResource(s.aliceAt, 1)!.kinds[0]!;
    expect(dict(other).generation > ours.generation, 'the other peer counts more stores').to.equal(true);
    expect(statCovers(dict(other).values, ours.values)).to.equal(false);
    other.engine.store(s.engine.exportResource(s.aliceAt, 1)!, peer(s.pki, s.carol));
    expect(statCovers(dict(other).values, ours.values)).to.equal(true);
    expect(statCovers(dict(s).values, other.engine.exportResource(s.aliceAt, 1)!.kinds[0]!.values), 'nor do we cover theirs').to.equal(false);
  });

  it('exports nothing for a resource not held', () => {
    expect(s.engine.exportResource(s.aliceAt, 1)).to.equal(undefined);
  });

  it('a fetcher verifies each value with the certificates of the answer, and catches a value altered after storage', () => {
    fill();
    const ans = s.engine.fetch(s.aliceAt, [{ kindId: KINDS.userList.id, generation: 0n, selector: { model: 'array', ranges: [] } }]);
    const signer = s.pki.trust.verify(ans.certificates[0]!, s.clock.now());
    for (const v of ans.kinds[0]!.values) verifyStoredData(s.aliceAt, KINDS.userList.id, v, signer, s.pki.trust);
    // A storing peer that changes a value, its storage time or its deletion flag is caught.
    const [first] = ans.kinds[0]!.values;
    const altered = [
      { ...first!, storageTimeMs: first!.storageTimeMs + 1 },
      { ...first!, value: { ...first!.value, value: { exists: true, value: Uint8Array.from(Buffer.from('A')) } } },
      { ...first!, value: { ...first!.value, value: { exists: false, value: first!.value.value.value } } },
    ];
    for (const v of altered) expectReloadError(() => verifyStoredData(s.aliceAt, KINDS.userList.id, v, signer, s.pki.trust), ErrorCode.Forbidden, { reason: 'bad_data_signature' });
    expectReloadError(() => verifyStoredData(userResource(s.bob.user, HASH), KINDS.userList.id, first!, signer, s.pki.trust), ErrorCode.Forbidden, { reason: 'bad_data_signature' });
  });
});
