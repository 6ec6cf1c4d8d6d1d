import { expect } from 'chai';
import { ErrorCode } from '../../../overlay/errors.js';
import { nodeMultipleResource, nodeResource, userResource } from '../../../overlay/storage/access-control.js';
import { GenerationError } from '../../../overlay/storage/generation-error.js';
import { ARRAY_APPEND } from '../../../overlay/storage/types.js';
import { makePki } from '../../helpers/pki.js';
import { entry, expectRefused, HASH, keyed, KINDS, peer, setup, signed, single, snapshot, START_MS, storeReq, type Setup } from './fixture.js';

describe('StorageEngine.store', () => {
  let s: Setup;
  beforeEach(async () => {
    s = await setup();
    // Something held from the start, so that "nothing changed after a refusal" means something.
    const baseline = signed(s.alice, s.aliceAt, KINDS.userDict.id, keyed('baseline', 'held'));
    s.engine.store(storeReq(s.aliceAt, [{ kindId: KINDS.userDict.id, values: [baseline] }], [s.alice]), peer(s.pki, s.alice));
  });

  const alicePeer = () => peer(s.pki, s.alice);
  const bobPeer = () => peer(s.pki, s.bob);
  /** alice's single value at H(alice), stored by alice. */
  const storeAliceValue = (text: string, at = 0) =>
    s.engine.store(storeReq(s.aliceAt, [{ kindId: KINDS.userValue.id, values: [signed(s.alice, s.aliceAt, KINDS.userValue.id, single(text), { at })] }], [s.alice]), alicePeer());

  it('stores a single value, bumps the generation from 0 to 1, and fetch returns it with the certificate', () => {
    expect(storeAliceValue('hello')).to.deep.equal([{ kindId: KINDS.userValue.id, generation: 1n }]);
    const ans = s.engine.fetch(s.aliceAt, [{ kindId: KINDS.userValue.id, generation: 0n, selector: { model: 'single' } }]);
    expect(ans.kinds[0]!.generation).to.equal(1n);
    expect(Buffer.from(ans.kinds[0]!.values[0]!.value.value.value).toString()).to.equal('hello');
    expect(ans.certificates).to.deep.equal([Uint8Array.from(s.alice.certDer)]);
    expect(storeAliceValue('again', 1)[0]!.generation).to.equal(2n);
  });

  it('refuses an unknown kind with Unknown_Kind', () => {
    const v = signed(s.alice, s.aliceAt, 0xf00000ff, single('x'));
    expectRefused(s, storeReq(s.aliceAt, [{ kindId: 0xf00000ff, values: [v] }], [s.alice]), alicePeer(), ErrorCode.Unknown_Kind);
  });

  it('refuses a value of another data model than the kind (wrong_data_model)', () => {
    storeAliceValue('kept');
    const v = signed(s.alice, s.aliceAt, KINDS.userValue.id, entry(0, 'x'), { at: 1 });
    expectRefused(s, storeReq(s.aliceAt, [{ kindId: KINDS.userValue.id, values: [v] }], [s.alice]), alicePeer(), ErrorCode.Invalid_Message, 'wrong_data_model');
  });

  it('refuses a value above the kind max-size with Data_Too_Large, accepts one of exactly max-size', () => {
    const store = (n: number) => storeReq(s.aliceAt, [{ kindId: KINDS.userValue.id, values: [signed(s.alice, s.aliceAt, KINDS.userValue.id, single('x'.repeat(n)), { at: n })] }], [s.alice]);
    storeAliceValue('kept');
    expectRefused(s, store(KINDS.userValue.maxSize + 1), alicePeer(), ErrorCode.Data_Too_Large, 'data_too_large');
    s.engine.store(store(KINDS.userValue.maxSize), alicePeer());
  });

  it('refuses a value whose signer certificate is neither in the request nor held (unknown_signer)', () => {
    const bobAt = userResource(s.bob.user, HASH);
    const v = signed(s.bob, bobAt, KINDS.userValue.id, single('x'));
    expectRefused(s, storeReq(bobAt, [{ kindId: KINDS.userValue.id, values: [v] }], []), bobPeer(), ErrorCode.Forbidden, 'unknown_signer');
    // alice signed the value held since beforeEach: her certificate need not travel again.
    s.engine.store(storeReq(s.aliceAt, [{ kindId: KINDS.userValue.id, values: [signed(s.alice, s.aliceAt, KINDS.userValue.id, single('x'))] }], []), alicePeer());
  });

  it('refuses a value signed by a certificate of another CA (untrusted_certificate)', async () => {
    const other = await makePki();
    const mallory = await other.enroll('alice@test.reload', { notBefore: new Date(START_MS - 86_400_000) });
    const v = signed(mallory, s.aliceAt, KINDS.userValue.id, single('x'));
    expectRefused(s, storeReq(s.aliceAt, [{ kindId: KINDS.userValue.id, values: [v] }], [mallory]), alicePeer(), ErrorCode.Forbidden, 'untrusted_certificate');
  });

  it('refuses a value whose signer certificate has expired by the clock (certificate_expired)', () => {
    const v = signed(s.alice, s.aliceAt, KINDS.userValue.id, single('x'));
    s.clock.advance(400 * 86_400_000);
    expectRefused(s, storeReq(s.aliceAt, [{ kindId: KINDS.userValue.id, values: [v] }], [s.alice]), alicePeer(), ErrorCode.Forbidden, 'certificate_expired');
  });

  it('refuses a value whose signature bytes were altered (bad_data_signature)', () => {
    storeAliceValue('kept');
    const v = signed(s.alice, s.aliceAt, KINDS.userValue.id, single('new'), { at: 1 });
    v.signature.value[10]! ^= 0x01;
    expectRefused(s, storeReq(s.aliceAt, [{ kindId: KINDS.userValue.id, values: [v] }], [s.alice]), alicePeer(), ErrorCode.Forbidden, 'bad_data_signature');
  });

  it('refuses a value signed for another resource or kind (bad_data_signature)', () => {
    const forKind = signed(s.alice, s.aliceAt, KINDS.userList.id, single('x'));
    expectRefused(s, storeReq(s.aliceAt, [{ kindId: KINDS.userValue.id, values: [forKind] }], [s.alice]), alicePeer(), ErrorCode.Forbidden, 'bad_data_signature');
  });

  describe('access control (Forbidden access_denied)', () => {
    it('USER-MATCH: another user can neither overwrite nor delete alice\'s value, nor store at H(alice)', () => {
      storeAliceValue('alice owns this');
      for (const text of ['overwritten', undefined]) {
        const v = signed(s.bob, s.aliceAt, KINDS.userValue.id, single(text), { at: 5 });
        const e = expectRefused(s, storeReq(s.aliceAt, [{ kindId: KINDS.userValue.id, values: [v] }], [s.bob]), bobPeer(), ErrorCode.Forbidden, 'access_denied');
        expect(e.message).to.match(/USER-MATCH: .* is not H\("bob@test.reload"\)/);
      }
    });

    it('USER-MATCH: an original store of alice\'s value must also be signed by a user it matches (the request signer)', () => {
      const v = signed(s.alice, s.aliceAt, KINDS.userValue.id, single('relayed'));
      const req = storeReq(s.aliceAt, [{ kindId: KINDS.userValue.id, values: [v] }], [s.alice]);
      expectRefused(s, req, bobPeer(), ErrorCode.Forbidden, 'access_denied');
      // As a replica (replica number > 0) the request signer is the replication source: accepted.
      s.engine.store({ ...req, replicaNumber: 1 }, bobPeer());
    });

    it('NODE-MATCH: only at H(signer Node-ID)', () => {
      const at = nodeResource(s.alice.nodeId, HASH);
      const ok = signed(s.alice, at, KINDS.nodeValue.id, single('mine'));
      s.engine.store(storeReq(at, [{ kindId: KINDS.nodeValue.id, values: [ok] }], [s.alice]), alicePeer());
      const bad = signed(s.bob, at, KINDS.nodeValue.id, single('not mine'), { at: 1 });
      const e = expectRefused(s, storeReq(at, [{ kindId: KINDS.nodeValue.id, values: [bad] }], [s.bob]), bobPeer(), ErrorCode.Forbidden, 'access_denied');
      expect(e.message).to.contain('NODE-MATCH');
    });

    it('USER-NODE-MATCH: at H(user) with the signer\'s Node-ID as key only', () => {
      const ok = signed(s.alice, s.aliceAt, KINDS.members.id, keyed(s.alice.nodeId, 'alice here'));
      s.engine.store(storeReq(s.aliceAt, [{ kindId: KINDS.members.id, values: [ok] }], [s.alice]), alicePeer());
      const wrongKey = signed(s.alice, s.aliceAt, KINDS.members.id, keyed(s.bob.nodeId, 'posing as bob'));
      expect(expectRefused(s, storeReq(s.aliceAt, [{ kindId: KINDS.members.id, values: [wrongKey] }], [s.alice]), alicePeer(), ErrorCode.Forbidden, 'access_denied').message).to.contain(
        'key is not the signer',
      );
      const wrongUser = signed(s.bob, s.aliceAt, KINDS.members.id, keyed(s.bob.nodeId, 'bob at alice'));
      expectRefused(s, storeReq(s.aliceAt, [{ kindId: KINDS.members.id, values: [wrongUser] }], [s.bob]), bobPeer(), ErrorCode.Forbidden, 'access_denied');
    });

    it('NODE-MULTIPLE: at H(Node-ID ‖ i) for i in 1..maxNodeMultiple only', () => {
      for (const i of [1, KINDS.turn.maxNodeMultiple]) {
        const at = nodeMultipleResource(s.alice.nodeId, i, HASH);
        s.engine.store(storeReq(at, [{ kindId: KINDS.turn.id, values: [signed(s.alice, at, KINDS.turn.id, single(`relay ${i}`))] }], [s.alice]), alicePeer());
      }
      for (const at of [nodeMultipleResource(s.alice.nodeId, KINDS.turn.maxNodeMultiple + 1, HASH), nodeMultipleResource(s.alice.nodeId, 0, HASH), nodeResource(s.alice.nodeId, HASH)]) {
        const v = signed(s.alice, at, KINDS.turn.id, single('too far'));
        const e = expectRefused(s, storeReq(at, [{ kindId: KINDS.turn.id, values: [v] }], [s.alice]), alicePeer(), ErrorCode.Forbidden, 'access_denied');
        expect(e.message).to.contain('for any i in 1..3');
      }
    });
  });

  describe('storage time (anti-rollback)', () => {
    it('refuses a value older than the one it replaces with Data_Too_Old', () => {
      storeAliceValue('new', 100);
      const old = signed(s.alice, s.aliceAt, KINDS.userValue.id, single('old'), { at: 99 });
      expectRefused(s, storeReq(s.aliceAt, [{ kindId: KINDS.userValue.id, values: [old] }], [s.alice]), alicePeer(), ErrorCode.Data_Too_Old);
    });

    it('refuses a different value with the same storage time; the same signed value again is a refresh', () => {
      const v = signed(s.alice, s.aliceAt, KINDS.userValue.id, single('one'), { at: 7 });
      const req = storeReq(s.aliceAt, [{ kindId: KINDS.userValue.id, values: [v] }], [s.alice]);
      expect(s.engine.store(req, alicePeer())[0]!.generation).to.equal(1n);
      const other = signed(s.alice, s.aliceAt, KINDS.userValue.id, single('two'), { at: 7 });
      expectRefused(s, storeReq(s.aliceAt, [{ kindId: KINDS.userValue.id, values: [other] }], [s.alice]), alicePeer(), ErrorCode.Data_Too_Old);
      expect(s.engine.store(req, alicePeer())[0]!.generation, 'a refresh changes no data').to.equal(1n);
    });

    it('a replica store merges: a key it is behind on keeps the newer held value, the keys it brings are added', () => {
      const at = (key: string, text: string, ms: number) => signed(s.alice, s.aliceAt, KINDS.userDict.id, keyed(key, text), { at: ms });
      const dict = () => s.engine.fetch(s.aliceAt, [{ kindId: KINDS.userDict.id, generation: 0n, selector: { model: 'dictionary', keys: [] } }]).kinds[0]!.values;
      s.engine.store(storeReq(s.aliceAt, [{ kindId: KINDS.userDict.id, values: [at('a', 'new a', 50)] }], [s.alice]), alicePeer());
      // The replica source is behind on "a" and holds "b", which this peer lacks.
      s.engine.store(storeReq(s.aliceAt, [{ kindId: KINDS.userDict.id, values: [at('a', 'old a', 10), at('b', 'b', 20)] }], [s.alice], 1), bobPeer());
      expect(dict().map((d) => Buffer.from(d.value.value.value).toString()).sort()).to.deep.equal(['b', 'held', 'new a']);
    });
  });

  describe('generation counters (RFC 6940 §7.4.1)', () => {
    it('accepts a store naming the current generation and refuses a stale one with GenerationError', () => {
      storeAliceValue('v1');
      storeAliceValue('v2', 1);
      const at = (n: number, generation: bigint) =>
        storeReq(s.aliceAt, [{ kindId: KINDS.userValue.id, generation, values: [signed(s.alice, s.aliceAt, KINDS.userValue.id, single(`v${n}`), { at: n })] }], [s.alice]);
      const e = expectRefused(s, at(3, 1n), alicePeer(), ErrorCode.Generation_Counter_Too_Low, 'generation_too_low');
      expect(e).to.be.instanceOf(GenerationError);
      expect((e as GenerationError).generations).to.deep.equal([{ kindId: KINDS.userValue.id, generation: 2n }]);
      expect(e.message).to.contain('generation 2');
      expectRefused(s, at(3, 3n), alicePeer(), ErrorCode.Generation_Counter_Too_Low, 'generation_too_low');
      expect(s.engine.store(at(3, 2n), alicePeer())[0]!.generation).to.equal(3n);
    });

    it('lists every stale kind of a multi-kind store', () => {
      storeAliceValue('v1');
      const req = storeReq(
        s.aliceAt,
        [
          { kindId: KINDS.userValue.id, generation: 5n, values: [signed(s.alice, s.aliceAt, KINDS.userValue.id, single('x'), { at: 1 })] },
          { kindId: KINDS.userList.id, generation: 2n, values: [signed(s.alice, s.aliceAt, KINDS.userList.id, entry(ARRAY_APPEND, 'y'))] },
        ],
        [s.alice],
      );
      const e = expectRefused(s, req, alicePeer(), ErrorCode.Generation_Counter_Too_Low) as GenerationError;
      expect(e.generations).to.deep.equal([
        { kindId: KINDS.userValue.id, generation: 1n },
        { kindId: KINDS.userList.id, generation: 0n },
      ]);
    });

    it('a replica adopts the generation it is sent when higher, and keeps its own otherwise', () => {
      const replica = (generation: bigint, at: number) =>
        storeReq(s.aliceAt, [{ kindId: KINDS.userValue.id, generation, values: [signed(s.alice, s.aliceAt, KINDS.userValue.id, single('x'), { at })] }], [s.alice], 1);
      expect(s.engine.store(replica(7n, 0), bobPeer())[0]!.generation).to.equal(7n);
      expect(s.engine.store(replica(3n, 1), bobPeer())[0]!.generation).to.equal(7n);
    });
  });

  describe('limits', () => {
    it('refuses more values than the kind max-count (too_many_values)', () => {
      const append = (n: number) => signed(s.alice, s.aliceAt, KINDS.userList.id, entry(ARRAY_APPEND, `e${n}`), { at: n });
      s.engine.store(storeReq(s.aliceAt, [{ kindId: KINDS.userList.id, values: [0, 1, 2, 3].map(append) }], [s.alice]), alicePeer());
      expectRefused(s, storeReq(s.aliceAt, [{ kindId: KINDS.userList.id, values: [append(4)] }], [s.alice]), alicePeer(), ErrorCode.Data_Too_Large, 'too_many_values');
      // Replacing an entry keeps the count: allowed.
      s.engine.store(storeReq(s.aliceAt, [{ kindId: KINDS.userList.id, values: [signed(s.alice, s.aliceAt, KINDS.userList.id, entry(2, 'replaced'), { at: 10 })] }], [s.alice]), alicePeer());
    });

    it('refuses a store beyond maxBytes (storage_full) and says how full', async () => {
      s = await setup({ maxBytes: 1000 });
      storeAliceValue('x'.repeat(400));
      expect(s.engine.bytesUsed).to.equal(400 + 256 + 32);
      const big = signed(s.alice, s.aliceAt, KINDS.userDict.id, keyed('k', 'y'.repeat(400)));
      const e = expectRefused(s, storeReq(s.aliceAt, [{ kindId: KINDS.userDict.id, values: [big] }], [s.alice]), alicePeer(), ErrorCode.Data_Too_Large, 'storage_full');
      expect(e.message).to.contain('688 of 1000 bytes used');
      // Replacing a value frees its bytes first.
      storeAliceValue('z'.repeat(600), 1);
      expect(s.engine.bytesUsed).to.equal(600 + 256 + 32);
    });

    it('refuses a store that needs more signer certificates than maxCertificates (storage_full)', async () => {
      s = await setup({ maxCertificates: 1 });
      storeAliceValue('x');
      const bobAt = userResource(s.bob.user, HASH);
      const v = signed(s.bob, bobAt, KINDS.userValue.id, single('y'));
      expectRefused(s, storeReq(bobAt, [{ kindId: KINDS.userValue.id, values: [v] }], [s.bob]), bobPeer(), ErrorCode.Data_Too_Large, 'storage_full');
    });
  });

  describe('atomicity', () => {
    it('a multi-kind store whose second kind fails changes nothing, not even the first kind', () => {
      storeAliceValue('v1');
      const before = snapshot(s, s.aliceAt);
      const req = storeReq(
        s.aliceAt,
        [
          { kindId: KINDS.userValue.id, values: [signed(s.alice, s.aliceAt, KINDS.userValue.id, single('v2'), { at: 1 })] },
          { kindId: KINDS.userList.id, values: [signed(s.bob, s.aliceAt, KINDS.userList.id, entry(ARRAY_APPEND, 'bob'))] },
        ],
        [s.alice, s.bob],
      );
      expectRefused(s, req, alicePeer(), ErrorCode.Forbidden, 'access_denied');
      expect(snapshot(s, s.aliceAt)).to.deep.equal(before);
    });

    it('a kind whose last value fails keeps none of its earlier values', () => {
      const values = [signed(s.alice, s.aliceAt, KINDS.userDict.id, keyed('a', '1')), signed(s.alice, s.aliceAt, KINDS.userDict.id, keyed('b', 'x'.repeat(2000)))];
      expectRefused(s, storeReq(s.aliceAt, [{ kindId: KINDS.userDict.id, values }], [s.alice]), alicePeer(), ErrorCode.Data_Too_Large);
    });

    it('a kind named twice is refused (duplicate_kind)', () => {
      const v = signed(s.alice, s.aliceAt, KINDS.userValue.id, single('x'));
      const req = storeReq(s.aliceAt, [{ kindId: KINDS.userValue.id, values: [v] }, { kindId: KINDS.userValue.id, values: [] }], [s.alice]);
      expectRefused(s, req, alicePeer(), ErrorCode.Invalid_Message, 'duplicate_kind');
    });

    it('a replica store must not append (append_in_replica)', () => {
      const v = signed(s.alice, s.aliceAt, KINDS.userList.id, entry(ARRAY_APPEND, 'x'));
      expectRefused(s, storeReq(s.aliceAt, [{ kindId: KINDS.userList.id, values: [v] }], [s.alice], 1), bobPeer(), ErrorCode.Invalid_Message, 'append_in_replica');
    });
  });

  it('keeps its own copy: changing the request\'s buffers after the store changes nothing held', () => {
    const v = signed(s.alice, s.aliceAt, KINDS.userValue.id, single('original'));
    s.engine.store(storeReq(s.aliceAt, [{ kindId: KINDS.userValue.id, values: [v] }], [s.alice]), alicePeer());
    const before = snapshot(s, s.aliceAt);
    v.value.value.value.fill(0);
    v.signature.value.fill(0);
    expect(snapshot(s, s.aliceAt)).to.deep.equal(before);
  });
});
