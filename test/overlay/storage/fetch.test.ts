import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { ErrorCode } from '../../../overlay/errors.js';
import { addToId, idToHex, type Id } from '../../../overlay/id.js';
import { userResource } from '../../../overlay/storage/access-control.js';
import { verifyStoredData } from '../../../overlay/storage/data-signature.js';
import { ARRAY_APPEND, type DataSelector, type StoredData } from '../../../overlay/storage/types.js';
import { expectReloadError } from '../../helpers/expect-reload-error.js';
import { entry, HASH, keyed, KINDS, peer, setup, signed, single, START_MS, storeReq, type Setup } from './fixture.js';

const text = (d: StoredData) => (d.value.value.exists ? Buffer.from(d.value.value.value).toString() : null);
const indexOf = (d: StoredData) => (d.value.model === 'array' ? d.value.index : -1);

describe('StorageEngine fetch, stat and find', () => {
  let s: Setup;
  beforeEach(async () => {
    s = await setup();
  });

  const store = (kindId: number, values: StoredData[], at: Id = s.aliceAt) => s.engine.store(storeReq(at, [{ kindId, values }], [s.alice, s.bob]), peer(s.pki, s.alice));
  const fetch = (kindId: number, selector: DataSelector, generation = 0n, at: Id = s.aliceAt) => s.engine.fetch(at, [{ kindId, generation, selector }]).kinds[0]!;
  const listValue = (index: number, t: string | undefined, at = 0) => signed(s.alice, s.aliceAt, KINDS.userList.id, entry(index, t), { at });
  const dictValue = (key: string, t: string | undefined, at = 0) => signed(s.alice, s.aliceAt, KINDS.userDict.id, keyed(key, t), { at });

  describe('arrays', () => {
    it('appends at one past the highest index, in request order, and the appended values still verify', () => {
      store(KINDS.userList.id, [listValue(ARRAY_APPEND, 'a'), listValue(ARRAY_APPEND, 'b')]);
      store(KINDS.userList.id, [listValue(ARRAY_APPEND, 'c')]);
      const values = fetch(KINDS.userList.id, { model: 'array', ranges: [] }).values;
      expect(values.map((v) => [indexOf(v), text(v)])).to.deep.equal([
        [0, 'a'],
        [1, 'b'],
        [2, 'c'],
      ]);
      for (const v of values) verifyStoredData(s.aliceAt, KINDS.userList.id, v, peer(s.pki, s.alice), s.pki.trust);
    });

    it('stores at explicit indexes (sparse), appends after the highest, and selects inclusive ranges', () => {
      store(KINDS.userList.id, [listValue(5, 'five'), listValue(1, 'one'), listValue(ARRAY_APPEND, 'six')]);
      const pick = (ranges: { first: number; last: number }[]) => fetch(KINDS.userList.id, { model: 'array', ranges }).values.map(indexOf);
      expect(pick([])).to.deep.equal([1, 5, 6]);
      expect(pick([{ first: 1, last: 5 }])).to.deep.equal([1, 5]);
      expect(pick([{ first: 2, last: 4 }])).to.deep.equal([]);
      expect(pick([{ first: 6, last: 6 }, { first: 0, last: 1 }])).to.deep.equal([1, 6]);
      expect(pick([{ first: 0, last: 0xffffffff }])).to.deep.equal([1, 5, 6]);
    });

    it('a deleted entry stays as a tombstone and its index is not reused by appends', () => {
      store(KINDS.userList.id, [listValue(ARRAY_APPEND, 'a'), listValue(ARRAY_APPEND, 'b')]);
      store(KINDS.userList.id, [listValue(1, undefined, 1)]);
      store(KINDS.userList.id, [listValue(ARRAY_APPEND, 'c', 2)]);
      expect(fetch(KINDS.userList.id, { model: 'array', ranges: [] }).values.map((v) => [indexOf(v), text(v)])).to.deep.equal([
        [0, 'a'],
        [1, null],
        [2, 'c'],
      ]);
    });
  });

  describe('dictionaries', () => {
    it('stores by key, replaces a key with a newer value, and selects keys (missing ones give nothing), ordered by key bytes', () => {
      store(KINDS.userDict.id, [dictValue('b', 'B'), dictValue('a', 'A'), dictValue('c', 'C')]);
      store(KINDS.userDict.id, [dictValue('b', 'B2', 1)]);
      const keysOf = (keys: string[]) => fetch(KINDS.userDict.id, { model: 'dictionary', keys: keys.map((k) => Uint8Array.from(Buffer.from(k))) }).values.map(text);
      expect(keysOf([])).to.deep.equal(['A', 'B2', 'C']);
      expect(keysOf(['c', 'zz', 'b', 'c'])).to.deep.equal(['B2', 'C']);
    });

    it('USER-NODE-MATCH: each member stores its own entry under its Node-ID at the shared resource', () => {
      const at = userResource(s.alice.user, HASH);
      const own = signed(s.alice, at, KINDS.members.id, keyed(s.alice.nodeId, 'member'));
      store(KINDS.members.id, [own], at);
      const got = fetch(KINDS.members.id, { model: 'dictionary', keys: [s.alice.nodeId] }, 0n, at).values;
      expect(got).to.have.length(1);
      expect(idToHex((got[0]!.value as { key: Uint8Array }).key)).to.equal(s.alice.nodeIdHex);
    });
  });

  describe('single values', () => {
    it('a never-stored single value gives no values and generation 0 (no synthesised exists=false)', () => {
      expect(fetch(KINDS.userValue.id, { model: 'single' })).to.deep.equal({ kindId: KINDS.userValue.id, generation: 0n, values: [] });
    });

    it('a deleted single value comes back as its signed exists=false tombstone', () => {
      store(KINDS.userValue.id, [signed(s.alice, s.aliceAt, KINDS.userValue.id, single('x'))]);
      store(KINDS.userValue.id, [signed(s.alice, s.aliceAt, KINDS.userValue.id, single(undefined), { at: 1 })]);
      const got = fetch(KINDS.userValue.id, { model: 'single' });
      expect(got.generation).to.equal(2n);
      expect(got.values.map(text)).to.deep.equal([null]);
    });
  });

  it('a specifier naming the current generation gets no values; any other generation gets them (RFC 6940 §7.4.2.1)', () => {
    store(KINDS.userDict.id, [dictValue('a', 'A')]);
    expect(fetch(KINDS.userDict.id, { model: 'dictionary', keys: [] }, 1n).values).to.deep.equal([]);
    expect(fetch(KINDS.userDict.id, { model: 'dictionary', keys: [] }, 2n).values.map(text)).to.deep.equal(['A']);
  });

  it('refuses an unknown kind (Unknown_Kind) and a selector of another model (wrong_data_model)', () => {
    expectReloadError(() => fetch(0xf00000ff, { model: 'single' }), ErrorCode.Unknown_Kind);
    expectReloadError(() => fetch(KINDS.userValue.id, { model: 'array', ranges: [] }), ErrorCode.Invalid_Message, { reason: 'wrong_data_model' });
    expectReloadError(() => s.engine.stat(s.aliceAt, [{ kindId: 0xf00000ff, generation: 0n, selector: { model: 'single' } }]), ErrorCode.Unknown_Kind);
  });

  it('returns copies: changing a fetched value changes nothing held', () => {
    store(KINDS.userValue.id, [signed(s.alice, s.aliceAt, KINDS.userValue.id, single('x'))]);
    fetch(KINDS.userValue.id, { model: 'single' }).values[0]!.value.value.value.fill(0x7a);
    expect(fetch(KINDS.userValue.id, { model: 'single' }).values.map(text)).to.deep.equal(['x']);
  });

  it('stat gives what fetch would, as metadata: index or key, exists, length, SHA-256, storage time, remaining lifetime', () => {
    store(KINDS.userList.id, [listValue(3, 'three'), listValue(4, undefined)]);
    s.clock.advance(10_500);
    const [ans] = s.engine.stat(s.aliceAt, [{ kindId: KINDS.userList.id, generation: 0n, selector: { model: 'array', ranges: [] } }]);
    const sha = (t: string) => Uint8Array.from(createHash('sha256').update(t).digest());
    expect(ans).to.deep.equal({
      kindId: KINDS.userList.id,
      generation: 1n,
      values: [
        { index: 3, exists: true, length: 5, hash: sha('three'), storageTimeMs: START_MS, lifetimeSec: 3589 },
        { index: 4, exists: false, length: 0, hash: sha(''), storageTimeMs: START_MS, lifetimeSec: 3589 },
      ],
    });
    store(KINDS.userDict.id, [dictValue('k', 'v')]);
    expect(s.engine.stat(s.aliceAt, [{ kindId: KINDS.userDict.id, generation: 0n, selector: { model: 'dictionary', keys: [] } }])[0]!.values[0]!.key).to.deep.equal(Uint8Array.of(0x6b));
  });

  describe('find (clockwise from the target)', () => {
    it('gives per kind the held Resource-ID at or after the target, wrapping around the ring', () => {
      const bobAt = userResource(s.bob.user, HASH);
      store(KINDS.userValue.id, [signed(s.alice, s.aliceAt, KINDS.userValue.id, single('a'))]);
      s.engine.store(storeReq(bobAt, [{ kindId: KINDS.userValue.id, values: [signed(s.bob, bobAt, KINDS.userValue.id, single('b'))] }], [s.bob]), peer(s.pki, s.bob));
      const find = (target: Id) => s.engine.find(target, [KINDS.userValue.id, KINDS.userDict.id]).map((f) => f.closest && idToHex(f.closest));
      expect(find(s.aliceAt)).to.deep.equal([idToHex(s.aliceAt), undefined]);
      expect(find(addToId(s.aliceAt, 1n))).to.deep.equal([idToHex(bobAt), undefined]);
      expect(find(addToId(bobAt, 1n))).to.deep.equal([idToHex(s.aliceAt), undefined]);
      expect(find(addToId(bobAt, -1n))).to.deep.equal([idToHex(bobAt), undefined]);
    });

    it('ignores resources where the kind holds only tombstones, and refuses unknown kinds', () => {
      store(KINDS.userValue.id, [signed(s.alice, s.aliceAt, KINDS.userValue.id, single(undefined))]);
      expect(s.engine.find(s.aliceAt, [KINDS.userValue.id])).to.deep.equal([{ kindId: KINDS.userValue.id, closest: undefined }]);
      expectReloadError(() => s.engine.find(s.aliceAt, [0xf00000ff]), ErrorCode.Unknown_Kind);
    });
  });
});
