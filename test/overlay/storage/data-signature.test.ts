import { createHash, verify } from 'node:crypto';
import { expect } from 'chai';
import { ErrorCode } from '../../../overlay/errors.js';
import { idFromHex } from '../../../overlay/id.js';
import { encodeStoredDataValue } from '../../../overlay/storage/codec.js';
import { signStoredData, verifyStoredData } from '../../../overlay/storage/data-signature.js';
import type { StoredData } from '../../../overlay/storage/types.js';
import { expectReloadError } from '../../helpers/expect-reload-error.js';
import { enrollPeople, entry, keyed, peer, single, START_MS, type People } from './fixture.js';

const R = idFromHex('0123456789abcdef0123456789abcdef');
const KIND = 0xf0000002;

describe('stored data signatures (RFC 6940 §7.1)', () => {
  let p: People;
  before(async () => {
    p = await enrollPeople();
  });

  const sign = (value = keyed('k', 'v')) => signStoredData(p.alice, R, KIND, { storageTimeMs: START_MS, lifetimeSec: 60, value });
  const refused = (d: StoredData, resource = R, kind = KIND, who = p.alice) =>
    expectReloadError(() => verifyStoredData(resource, kind, d, peer(p.pki, who), p.pki.trust), ErrorCode.Forbidden, { reason: 'bad_data_signature' });

  it('signs resource ‖ kind (u32 BE) ‖ storage_time (u64 BE) ‖ the value\'s CBOR ‖ cert hash, with the identity\'s key', () => {
    const d = sign();
    const certHash = createHash('sha256').update(p.alice.certDer).digest();
    expect(Buffer.from(d.signature.certHash)).to.deep.equal(certHash);
    const time = Buffer.alloc(8);
    time.writeBigUInt64BE(BigInt(START_MS));
    const input = Buffer.concat([R, Buffer.from([0xf0, 0, 0, 2]), time, encodeStoredDataValue(d.value), certHash]);
    expect(verify('sha256', input, peer(p.pki, p.alice).publicKey, d.signature.value)).to.equal(true);
    verifyStoredData(R, KIND, d, peer(p.pki, p.alice), p.pki.trust);
  });

  it('covers the resource, kind, storage time, existence, value bytes and dictionary key', () => {
    const d = sign();
    refused(d, idFromHex('0123456789abcdef0123456789abcdee'));
    refused(d, R, KIND + 1);
    refused({ ...d, storageTimeMs: d.storageTimeMs + 1 });
    refused({ ...d, value: keyed('k', undefined) });
    refused({ ...d, value: keyed('k', 'w') });
    refused({ ...d, value: keyed('K', 'v') });
    refused({ ...d, value: single('v') });
  });

  it('does not cover the lifetime, nor the array index (zeroed, so appends verify at the index they get)', () => {
    const d = sign();
    verifyStoredData(R, KIND, { ...d, lifetimeSec: 1 }, peer(p.pki, p.alice), p.pki.trust);
    const appended = sign(entry(0xffffffff, 'v'));
    for (const index of [0, 7, 0xfffffffe]) verifyStoredData(R, KIND, { ...appended, value: entry(index, 'v') }, peer(p.pki, p.alice), p.pki.trust);
  });

  it('refuses a signature checked against another certificate, and malformed signature bytes', () => {
    const d = sign();
    expectReloadError(() => verifyStoredData(R, KIND, d, peer(p.pki, p.bob), p.pki.trust), ErrorCode.Forbidden, { reason: 'bad_data_signature', message: /names certificate/ });
    refused({ ...d, signature: { ...d.signature, value: new Uint8Array() } });
    refused({ ...d, signature: { ...d.signature, value: new Uint8Array(300).fill(0xff) } });
  });

  it('refuses fields out of range with Invalid_Message, never another exception', () => {
    const d = sign();
    expectReloadError(() => verifyStoredData(R, -1, d, peer(p.pki, p.alice), p.pki.trust), ErrorCode.Invalid_Message);
    expectReloadError(() => verifyStoredData(R, KIND, { ...d, storageTimeMs: 2 ** 60 }, peer(p.pki, p.alice), p.pki.trust), ErrorCode.Invalid_Message);
    expectReloadError(() => verifyStoredData(R.subarray(1) as typeof R, KIND, d, peer(p.pki, p.alice), p.pki.trust), ErrorCode.Invalid_Message);
  });
});
