import { expect } from 'chai';
import { ErrorCode } from '../../../overlay/errors.js';
import type { StoredData } from '../../../overlay/storage/types.js';
import { expectReloadError } from '../../helpers/expect-reload-error.js';
import { KINDS, peer, setup, signed, single, storeReq, type Setup } from './fixture.js';

describe('StorageEngine lifetimes, tombstones and sweep', () => {
  let s: Setup;
  beforeEach(async () => {
    s = await setup();
  });

  const value = (text: string | undefined, at: number, lifetimeSec: number) => signed(s.alice, s.aliceAt, KINDS.userValue.id, single(text), { at, lifetimeSec });
  const store = (d: StoredData, replicaNumber = 0) =>
    s.engine.store(storeReq(s.aliceAt, [{ kindId: KINDS.userValue.id, values: [d] }], [s.alice], replicaNumber), peer(s.pki, replicaNumber ? s.carol : s.alice));
  const held = () => s.engine.fetch(s.aliceAt, [{ kindId: KINDS.userValue.id, generation: 0n, selector: { model: 'single' } }]).kinds[0]!.values;

  it('a value expires lifetimeSec after it is received: invisible at once, removed by sweep', () => {
    s.clock.advance(5000);
    store(value('x', 0, 10));
    s.clock.advance(9999);
    expect(held()).to.have.length(1);
    expect(held()[0]!.lifetimeSec, 'fetch reports the remaining lifetime').to.equal(0);
    s.clock.advance(1);
    expect(held()).to.deep.equal([]);
    expect(s.engine.resources()).to.deep.equal([]);
    expect(s.engine.exportResource(s.aliceAt, 1)).to.equal(undefined);
    expect(s.engine.find(s.aliceAt, [KINDS.userValue.id])[0]!.closest).to.equal(undefined);
    expect(s.engine.valueCount, 'held until the sweep').to.equal(1);
    expect(s.engine.sweep()).to.equal(1);
    expect([s.engine.valueCount, s.engine.bytesUsed]).to.deep.equal([0, 0]);
    expect(s.engine.sweep()).to.equal(0);
  });

  it('a value with a lifetime of 0 s is refused (Invalid_Message bad_lifetime), original or replica, and nothing is stored', () => {
    expectReloadError(() => store(value('x', 0, 0)), ErrorCode.Invalid_Message, { reason: 'bad_lifetime' });
    expectReloadError(() => store(value('x', 0, 0), 1), ErrorCode.Invalid_Message, { reason: 'bad_lifetime' });
    expect(held()).to.deep.equal([]);
    expect(s.engine.valueCount).to.equal(0);
  });

  it('an expired value does not block a replacement with an older storage time', () => {
    store(value('new', 10, 10));
    s.clock.advance(10_000);
    store(value('older', 5, 10));
    expect(held().map((d) => Buffer.from(d.value.value.value).toString())).to.deep.equal(['older']);
  });

  it('the same signed value stored again renews its lifetime without a new generation (idempotent refresh)', () => {
    const v = value('x', 0, 100);
    store(v);
    s.clock.advance(60_000);
    expect(held()[0]!.lifetimeSec).to.equal(40);
    expect(store(v)[0]!.generation).to.equal(1n);
    expect(held()[0]!.lifetimeSec).to.equal(100);
  });

  it('a tombstone lives until the deleted value would have expired, so a late old copy cannot resurrect it', () => {
    const original = value('x', 0, 100);
    store(original);
    s.clock.advance(10_000);
    store(value(undefined, 1, 5));
    s.clock.advance(50_000);
    expect(held().map((d) => d.value.value.exists), 'still a tombstone after its own 5 s').to.deep.equal([false]);
    // A replica that missed the deletion sends its old copy back: kept out, the tombstone stays.
    store({ ...original, lifetimeSec: 40 }, 1);
    expect(held().map((d) => d.value.value.exists), 'the old copy did not come back').to.deep.equal([false]);
    expectReloadError(() => store({ ...original, lifetimeSec: 40 }), ErrorCode.Data_Too_Old);
    s.clock.advance(40_000);
    expect(held()).to.deep.equal([]);
    expect(s.engine.sweep()).to.equal(1);
  });

  it('a tombstone with a longer lifetime than the deleted value keeps its own', () => {
    store(value('x', 0, 10));
    store(value(undefined, 1, 100));
    s.clock.advance(50_000);
    expect(held()[0]!.lifetimeSec).to.equal(50);
  });

  it('sweep drops the certificates no held value needs; stores then have to carry them again', () => {
    store(value('x', 0, 10));
    const withoutCertificate = (at: number) => storeReq(s.aliceAt, [{ kindId: KINDS.userValue.id, values: [value('y', at, 10)] }], []);
    s.engine.store(withoutCertificate(1), peer(s.pki, s.alice));
    s.clock.advance(10_000);
    expect(s.engine.sweep()).to.equal(1);
    expectReloadError(() => s.engine.store(withoutCertificate(2), peer(s.pki, s.alice)), ErrorCode.Forbidden, { reason: 'unknown_signer' });
  });

  it('drop forgets a resource and its bytes', () => {
    store(value('x', 0, 10));
    expect(s.engine.drop(s.aliceAt)).to.equal(true);
    expect([s.engine.valueCount, s.engine.bytesUsed, held().length]).to.deep.equal([0, 0, 0]);
    expect(s.engine.drop(s.aliceAt)).to.equal(false);
  });
});
