import { expect } from 'chai';
import { ErrorCode } from '../../../overlay/errors.js';
import { idFromHex } from '../../../overlay/id.js';
import {
  decodeFetchAns,
  decodeFindAns,
  decodeFetchReq,
  decodeStoreAns,
  decodeStoreReq,
  encodeFetchReq,
  encodeStatAns,
  encodeStoreAns,
  encodeStoreReq,
  MAX_CERTIFICATES_PER_BODY,
  MAX_KINDS_PER_REQUEST,
  MAX_REPLICAS,
  MAX_SELECTOR_ENTRIES,
  MAX_VALUES_PER_KIND,
} from '../../../overlay/storage/codec.js';
import type { StoredData, StoreRequest } from '../../../overlay/storage/types.js';
import { decodeCbor, encodeCbor } from '../../../overlay/wire/cbor.js';
import { expectReloadError } from '../../helpers/expect-reload-error.js';
import { CODECS, MAX_MESSAGE_SIZE } from './codec-samples.js';

const A = idFromHex('00112233445566778899aabbccddeeff');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const invalid = (fn: () => unknown, message: RegExp) => expectReloadError(fn, ErrorCode.Invalid_Message, { message });

const signature = { certHash: new Uint8Array(32), value: new Uint8Array(1) };
const single = (value: Uint8Array, storageTimeMs = 1): StoredData => ({ storageTimeMs, lifetimeSec: 1, value: { model: 'single', value: { exists: true, value } }, signature });
const storeReq = (values: StoredData[], overrides: Partial<StoreRequest> = {}): StoreRequest => ({
  resource: A,
  replicaNumber: 0,
  kinds: [{ kindId: 1, generation: 0n, values }],
  certificates: [],
  ...overrides,
});
/** Re-encodes a decoded body after `edit` changed its CBOR items. */
const edited = (body: Uint8Array, edit: (items: any) => void) => {
  const items = decodeCbor(Uint8Array.from(body));
  edit(items);
  return Uint8Array.from(encodeCbor(items));
};

describe('storage codec (RFC 6940 §7.4 bodies)', () => {
  for (const c of CODECS) {
    it(`round-trips ${c.name}`, () => {
      const body = Uint8Array.from(c.encode(c.value as never));
      expect(c.decode(body)).to.deep.equal(c.value);
      expect(hex(c.encode(c.decode(body) as never)), 'encoding is deterministic').to.equal(hex(body));
    });
  }

  it('writes integers in their shortest form and normalises u64s however they were written', () => {
    // [kind, generation, replicas]: generation 5 is one byte, not an 8-byte bigint head.
    expect(hex(encodeStoreAns([{ kindId: 1, generation: 5n, replicas: [] }]))).to.equal('8183010580');
    // A storage time above 2^32 is an 8-byte integer, never a float.
    expect(hex(encodeStoreReq(storeReq([single(new Uint8Array(), 2 ** 40)])))).to.contain('1b0000010000000000');
    const long = Uint8Array.from(Buffer.from('81830f1b000000000000000580', 'hex'));
    expect(decodeStoreAns(long)).to.deep.equal([{ kindId: 15, generation: 5n, replicas: [] }]);
    const float = Uint8Array.from(Buffer.from('8183fb402e0000000000000580', 'hex'));
    expect(decodeStoreAns(float)[0]!.kindId).to.equal(15);
  });

  it('refuses storage times above 2^53-1 and u64s above 2^64-1', () => {
    const body = encodeStoreReq(storeReq([single(new Uint8Array())]));
    invalid(() => decodeStoreReq(edited(body, (i) => (i[2][0][2][0][0] = 2n ** 53n)), MAX_MESSAGE_SIZE), /store\.kinds\[0\]\.values\[0\]\.storageTimeMs must be at most/);
    invalid(() => decodeStoreReq(edited(body, (i) => (i[2][0][1] = -1)), MAX_MESSAGE_SIZE), /store\.kinds\[0\]\.generation must be an integer/);
    invalid(() => encodeStoreReq({ ...storeReq([]), kinds: [{ kindId: 1, generation: 1n << 64n, values: [] }] }), /generation/);
  });

  it('refuses ids that are not 16 bytes, naming the field', () => {
    const body = encodeStoreReq(storeReq([]));
    invalid(() => decodeStoreReq(edited(body, (i) => (i[0] = new Uint8Array(15))), MAX_MESSAGE_SIZE), /store\.resource must be 16\.\.16 bytes, got 15/);
    invalid(() => decodeStoreAns(Uint8Array.from(encodeCbor([[1, 1, [new Uint8Array(17)]]]))), /storeAns\[0\]\.replicas\[0\] must be 16\.\.16 bytes/);
    invalid(() => decodeFindAns(Uint8Array.from(encodeCbor([[1, 'x']]))), /findAns\[0\]\.closest must be a byte string/);
  });

  it('bounds every list', () => {
    const many = <T>(n: number, item: T) => Array.from({ length: n }, () => item);
    invalid(() => encodeStoreReq({ ...storeReq([]), kinds: many(MAX_KINDS_PER_REQUEST + 1, { kindId: 1, generation: 0n, values: [] }) }), /store\.kinds has 65 entries/);
    encodeStoreReq(storeReq(many(MAX_VALUES_PER_KIND, single(new Uint8Array()))));
    invalid(() => encodeStoreReq(storeReq(many(MAX_VALUES_PER_KIND + 1, single(new Uint8Array())))), /values has 1025 entries/);
    const body = encodeStoreReq(storeReq([]));
    invalid(() => decodeStoreReq(edited(body, (i) => (i[3] = many(MAX_CERTIFICATES_PER_BODY + 1, Uint8Array.of(1)))), MAX_MESSAGE_SIZE), /store\.certificates has 1025 entries/);
    invalid(() => decodeStoreAns(Uint8Array.from(encodeCbor([[1, 1, many(MAX_REPLICAS + 1, new Uint8Array(16))]]))), /replicas has 33 entries/);
    const ranges = many(MAX_SELECTOR_ENTRIES + 1, { first: 0, last: 1 });
    invalid(() => encodeFetchReq({ resource: A, specifiers: [{ kindId: 1, generation: 0n, selector: { model: 'array', ranges } }] }), /ranges has 1025 entries/);
  });

  it('refuses a value longer than the max message size, accepts one of exactly that size', () => {
    const body = (n: number) => Uint8Array.from(encodeStoreReq(storeReq([single(new Uint8Array(n))])));
    expect(decodeStoreReq(body(100), 100).kinds[0]!.values[0]!.value.value.value).to.have.length(100);
    invalid(() => decodeStoreReq(body(101), 100), /store\.kinds\[0\]\.values\[0\]\.value\.value must be 0\.\.100 bytes, got 101/);
    const ans = Uint8Array.from(encodeCbor([[[1, 1, [[1, 1, [1, true, new Uint8Array(101)], [new Uint8Array(32), new Uint8Array(1)]]]]], []]));
    invalid(() => decodeFetchAns(ans, 100), /fetchAns\.kinds\[0\]\.values\[0\]\.value\.value must be 0\.\.100 bytes/);
  });

  it('refuses an unknown data-model code, the wrong arity for a model, and a backwards range', () => {
    const fetch = (selector: unknown) => Uint8Array.from(encodeCbor([A, [[1, 0, selector]]]));
    invalid(() => decodeFetchReq(fetch([4])), /selector\.model 4 is not a data model/);
    invalid(() => decodeFetchReq(fetch([])), /selector must be an array starting with a data-model code/);
    invalid(() => decodeFetchReq(fetch([1, []])), /selector must be an array of 1 items/);
    invalid(() => decodeFetchReq(fetch([2, [[5, 4]]])), /ranges\[0\] must have first <= last, got 5 > 4/);
    invalid(() => decodeFetchReq(fetch([3, ['key']])), /keys\[0\] must be a byte string/);
    const value = (v: unknown) => Uint8Array.from(encodeCbor([A, 0, [[1, 0, [[1, 1, v, [new Uint8Array(32), new Uint8Array(1)]]]]], []]));
    invalid(() => decodeStoreReq(value([2, true, new Uint8Array()]), MAX_MESSAGE_SIZE), /values\[0\]\.value must be an array of 4 items/);
    invalid(() => decodeStoreReq(value([3, new Uint8Array(65536), true, new Uint8Array()]), MAX_MESSAGE_SIZE), /value\.key must be 0\.\.65535 bytes/);
    invalid(() => decodeStoreReq(value([1, 1, new Uint8Array()]), MAX_MESSAGE_SIZE), /value\.exists must be a boolean/);
  });

  it('refuses a certificate hash that is not 32 bytes, and an empty certificate', () => {
    const body = encodeStoreReq(storeReq([single(new Uint8Array())]));
    invalid(() => decodeStoreReq(edited(body, (i) => (i[2][0][2][0][3][0] = new Uint8Array(20))), MAX_MESSAGE_SIZE), /signature\.certHash must be 32\.\.32 bytes/);
    invalid(() => decodeStoreReq(edited(body, (i) => (i[3] = [new Uint8Array()])), MAX_MESSAGE_SIZE), /store\.certificates\[0\] must be 1\.\.65535 bytes/);
  });

  it('encoders refuse what the decoders would (Invalid_Message naming the field)', () => {
    invalid(() => encodeStoreReq(storeReq([], { replicaNumber: 256 })), /store\.replicaNumber must be an integer in 0\.\.255/);
    invalid(() => encodeStoreReq(storeReq([], { resource: new Uint8Array(3) as typeof A })), /store\.resource/);
    invalid(() => encodeStoreReq(storeReq([{ ...single(new Uint8Array()), value: { model: 'list', value: { exists: true, value: new Uint8Array() } } as never }])), /value\.model must be single, array or dictionary/);
    invalid(() => encodeStatAns([{ kindId: 1, generation: 0n, values: [{ index: 1, key: new Uint8Array(), exists: true, length: 0, hash: new Uint8Array(32), storageTimeMs: 0, lifetimeSec: 0 }] }]), /has both an index and a key/);
  });
});
