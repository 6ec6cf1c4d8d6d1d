/**
 * One valid body of each storage message, with its codec: the round-trip tests check them, the
 * fuzz test mutates them. Byte fields are plain Uint8Arrays, as the decoders give them back.
 */
import { idFromHex } from '../../../overlay/id.js';
import * as codec from '../../../overlay/storage/codec.js';
import type { StoredData } from '../../../overlay/storage/types.js';

export const MAX_MESSAGE_SIZE = 1 << 16;

const A = idFromHex('00112233445566778899aabbccddeeff');
const B = idFromHex('ffeeddccbbaa99887766554433221100');
const bytes = (...b: number[]) => Uint8Array.from(b);
const signature = { certHash: new Uint8Array(32).fill(0xab), value: new Uint8Array(256).fill(0x5a) };

const VALUES: StoredData[] = [
  { storageTimeMs: 1_700_000_000_123, lifetimeSec: 3600, value: { model: 'single', value: { exists: true, value: bytes(1, 2, 3) } }, signature },
  { storageTimeMs: 0, lifetimeSec: 0, value: { model: 'array', index: 0xffffffff, value: { exists: false, value: bytes() } }, signature },
  { storageTimeMs: Number.MAX_SAFE_INTEGER, lifetimeSec: 0xffffffff, value: { model: 'dictionary', key: bytes(0, 0xff), value: { exists: true, value: bytes(9) } }, signature },
];

/** A codec as the tests drive it: decoders that need the message size get MAX_MESSAGE_SIZE. */
export interface Codec {
  name: string;
  value: unknown;
  encode(value: never): Uint8Array;
  decode(body: Uint8Array): unknown;
}

export const CODECS: Codec[] = [
  {
    name: 'StoreReq',
    value: {
      resource: A,
      replicaNumber: 2,
      kinds: [
        { kindId: 0xf0000001, generation: 7n, values: VALUES },
        { kindId: 3, generation: (1n << 64n) - 1n, values: [] },
      ],
      certificates: [bytes(0x30, 0x82), new Uint8Array(1000).fill(1)],
    },
    encode: codec.encodeStoreReq,
    decode: (b) => codec.decodeStoreReq(b, MAX_MESSAGE_SIZE),
  },
  { name: 'StoreAns', value: [{ kindId: 16, generation: 2n ** 53n, replicas: [A, B] }, { kindId: 3, generation: 0n, replicas: [] }], encode: codec.encodeStoreAns, decode: codec.decodeStoreAns },
  {
    name: 'FetchReq',
    value: {
      resource: B,
      specifiers: [
        { kindId: 1, generation: 0n, selector: { model: 'single' } },
        { kindId: 2, generation: 3n, selector: { model: 'array', ranges: [{ first: 0, last: 0 }, { first: 5, last: 0xffffffff }] } },
        { kindId: 3, generation: 0n, selector: { model: 'dictionary', keys: [bytes(), bytes(1, 2)] } },
      ],
    },
    encode: codec.encodeFetchReq,
    decode: codec.decodeFetchReq,
  },
  {
    name: 'StatReq',
    value: { resource: A, specifiers: [{ kindId: 9, generation: 1n, selector: { model: 'array', ranges: [] } }] },
    encode: codec.encodeStatReq,
    decode: codec.decodeStatReq,
  },
  {
    name: 'FetchAns',
    value: { kinds: [{ kindId: 0xffffffff, generation: 12n, values: VALUES }, { kindId: 0, generation: 0n, values: [] }], certificates: [bytes(0x30)] },
    encode: codec.encodeFetchAns,
    decode: (b) => codec.decodeFetchAns(b, MAX_MESSAGE_SIZE),
  },
  {
    name: 'StatAns',
    value: [
      {
        kindId: 5,
        generation: 4n,
        values: [
          { exists: true, length: 3, hash: new Uint8Array(32).fill(1), storageTimeMs: 1_700_000_000_000, lifetimeSec: 60 },
          { index: 4, exists: false, length: 0, hash: new Uint8Array(32), storageTimeMs: 5, lifetimeSec: 0 },
          { key: bytes(7), exists: true, length: 0xffffffff, hash: new Uint8Array(32).fill(2), storageTimeMs: 6, lifetimeSec: 1 },
        ],
      },
    ],
    encode: codec.encodeStatAns,
    decode: codec.decodeStatAns,
  },
  { name: 'FindReq', value: { target: A, kindIds: [1, 0xffffffff] }, encode: codec.encodeFindReq, decode: codec.decodeFindReq },
  {
    name: 'FindAns',
    value: [
      { kindId: 1, closest: B },
      { kindId: 2, closest: undefined },
    ],
    encode: codec.encodeFindAns,
    decode: codec.decodeFindAns,
  },
];
