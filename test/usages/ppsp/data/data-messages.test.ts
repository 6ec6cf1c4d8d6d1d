import { expect } from 'chai';
import { ErrorCode } from '../../../../overlay/errors.js';
import { encodeCbor } from '../../../../overlay/wire/cbor.js';
import {
  BEFORE_HANDSHAKE,
  DATA_HEADER_BYTES,
  decodeDataMessage,
  encodeDataMessage,
  HASH_BYTES,
  MAX_ERROR_TEXT_BYTES,
  PPSP_DATA_VERSION,
  type DataMessage,
  type PpspDataMessage,
  type SwarmBounds,
  writeDataHeader,
} from '../../../../usages/ppsp/data/data-messages.js';
import { expectReloadError } from '../../../helpers/expect-reload-error.js';

const BOUNDS: SwarmBounds = { chunkCount: 100, maxChunkBytes: 1024 };
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const fromHex = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));
const hash = (fill: number) => new Uint8Array(HASH_BYTES).fill(fill);
const invalid = (fn: () => unknown, message: RegExp, reason?: string) =>
  expectReloadError(fn, ErrorCode.Invalid_Message, reason === undefined ? { message } : { message, reason });
const decode = (frame: Uint8Array, bounds = BOUNDS) => decodeDataMessage(frame, bounds);
const data = (overrides: Partial<DataMessage> = {}): DataMessage => ({
  type: 'data',
  index: 7,
  chunk: Uint8Array.from([9, 8, 7, 6]),
  ...overrides,
});

/** Golden frames: the layout each doc comment states, byte for byte. */
const GOLDEN: [PpspDataMessage, string][] = [
  [{ type: 'handshake', swarmId: hash(0xab), version: 1 }, '8300' + '5820' + 'ab'.repeat(32) + '01'],
  [{ type: 'request', first: 1, last: 2 }, '83080102'],
  [{ type: 'request', first: 0, last: 99 }, '8308001863'],
  [{ type: 'cancel', first: 5, last: 5 }, '83090505'],
  [{ type: 'have', first: 0, last: 24 }, '8303001818'],
  [{ type: 'choke' }, '810a'],
  [{ type: 'unchoke' }, '810b'],
  [{ type: 'error', code: ErrorCode.Forbidden, text: 'choked' }, '8318fe0266' + hex(Buffer.from('choked'))],
  [data({ index: 0x3c, chunk: Uint8Array.from([0xde, 0xad]) }), '01' + '0000003c' + 'dead'],
  [{ type: 'hashesRequest', first: 64, last: 95 }, '830e' + '1840' + '185f'],
  // Two leaf hashes and the uncles of their subtree, lowest first.
  [{ type: 'hashes', first: 8, hashes: Buffer.concat([hash(0x11), hash(0x22)]), uncles: Buffer.concat([hash(0x33), hash(0x44)]) }, '840f08' + '5840' + '11'.repeat(32) + '22'.repeat(32) + '5840' + '33'.repeat(32) + '44'.repeat(32)],
  // A range that is the whole tree has no uncles: an empty byte string, not a missing field.
  [{ type: 'hashes', first: 0, hashes: hash(0x11), uncles: new Uint8Array(0) }, '840f00' + '5820' + '11'.repeat(32) + '40'],
  [{ type: 'metadata', rootHash: hash(0xcd), contentLength: 1000, chunkSize: 1024 }, '8410' + '5820' + 'cd'.repeat(32) + '1903e8' + '190400'],
  [{ type: 'metadata', rootHash: hash(0xcd), contentLength: 1000, chunkSize: 1024, name: 'a.mp4' }, '8610' + '5820' + 'cd'.repeat(32) + '1903e8' + '190400' + '65' + hex(Buffer.from('a.mp4')) + 'f6'],
  [{ type: 'metadata', rootHash: hash(0xcd), contentLength: 1, chunkSize: 1024, name: 'x', mediaType: 'video/mp4' }, '8610' + '5820' + 'cd'.repeat(32) + '01' + '190400' + '6178' + '69' + hex(Buffer.from('video/mp4'))],
];

describe('PPSP data messages', () => {
  describe('encoding', () => {
    for (const [message, frame] of GOLDEN) {
      it(`${message.type} has the documented layout and round-trips`, () => {
        const encoded = encodeDataMessage(message);
        expect(hex(encoded)).to.equal(frame);
        expect(decode(fromHex(frame))).to.deep.equal(message);
      });
    }

    it('DATA is a 5-byte header (type, index) and the chunk as the tail; writeDataHeader lays the header in place', () => {
      expect(DATA_HEADER_BYTES).to.equal(5);
      const m = data();
      expect(hex(encodeDataMessage(m))).to.equal('0100000007' + hex(m.chunk));
      const frame = Buffer.alloc(DATA_HEADER_BYTES + 4, 0xee);
      writeDataHeader(frame, 0x01020304);
      expect(hex(frame)).to.equal('0101020304' + 'ee'.repeat(4));
    });

    it('decoded DATA chunk is a view into the frame, not a copy', () => {
      const frame = encodeDataMessage(data());
      const m = decode(frame) as DataMessage;
      expect(m.chunk.buffer).to.equal(frame.buffer);
      expect(m.chunk.byteOffset).to.equal(frame.byteOffset + DATA_HEADER_BYTES);
      expect(m.chunk.length).to.equal(frame.length - DATA_HEADER_BYTES);
      expect(m.chunk).to.be.instanceOf(Buffer);
    });

    it('decodes DATA from a plain Uint8Array at an offset in a larger buffer', () => {
      const frame = encodeDataMessage(data());
      const big = new Uint8Array(frame.length + 10);
      big.set(frame, 5);
      const m = decode(big.subarray(5, 5 + frame.length)) as DataMessage;
      expect(m.index).to.equal(7);
      expect([...m.chunk]).to.deep.equal([9, 8, 7, 6]);
      expect(m.chunk.buffer).to.equal(big.buffer);
      expect(m.chunk.byteOffset).to.equal(5 + DATA_HEADER_BYTES);
    });

    it('accepts a chunk of exactly the chunk size, a 1-byte chunk, and the last chunk index', () => {
      const m = data({ index: 99, chunk: new Uint8Array(1024).fill(5) });
      expect(decode(encodeDataMessage(m))).to.deep.equal(m);
      expect(decode(encodeDataMessage(data({ chunk: Uint8Array.of(0) })))).to.deep.equal(data({ chunk: Uint8Array.of(0) }));
      expect(decode(encodeDataMessage({ type: 'request', first: 0, last: 99 }))).to.deep.equal({ type: 'request', first: 0, last: 99 });
    });

    it('takes every byte after the index as chunk: none is read as an uncle count or hash', () => {
      // Byte 5 was the uncle count in the old layout; here it is the chunk's first byte, whatever it is.
      for (const first of [0x00, 0x01, 0x03, 0x07, 0xff]) {
        const chunk = Uint8Array.from([first, ...hash(0xcc)]);
        const m = decode(encodeDataMessage(data({ chunk }))) as DataMessage;
        expect(hex(m.chunk), `first byte ${first}`).to.equal(hex(chunk));
      }
      expect(hex((decode(fromHex('0100000007' + 'ff')) as DataMessage).chunk)).to.equal('ff');
    });

    it('keeps the largest u32 ranges and the longest error text', () => {
      const big = { chunkCount: 2 ** 32, maxChunkBytes: 16 };
      const request: PpspDataMessage = { type: 'request', first: 0xffffffff, last: 0xffffffff };
      expect(decode(encodeDataMessage(request), big)).to.deep.equal(request);
      const error: PpspDataMessage = { type: 'error', code: 0xff, text: 'é'.repeat(MAX_ERROR_TEXT_BYTES / 2) };
      expect(decode(encodeDataMessage(error))).to.deep.equal(error);
    });

    it('encoders refuse bad fields with Invalid_Message naming the field', () => {
      invalid(() => encodeDataMessage(data({ index: -1 })), /data\.index/);
      invalid(() => encodeDataMessage(data({ index: 2 ** 32 })), /data\.index/);
      invalid(() => encodeDataMessage(data({ chunk: new Uint8Array(0) })), /data\.chunk/);
      invalid(() => encodeDataMessage(data({ chunk: [1, 2] as unknown as Uint8Array })), /data\.chunk/);
      invalid(() => writeDataHeader(Buffer.alloc(DATA_HEADER_BYTES + 1), 2 ** 32), /data\.index/);
      invalid(() => encodeDataMessage({ type: 'request', first: 3, last: 2 }), /request first 3 is after last 2/);
      invalid(() => encodeDataMessage({ type: 'have', first: 1.5, last: 2 }), /have\.first/);
      invalid(() => encodeDataMessage({ type: 'handshake', swarmId: new Uint8Array(20), version: 1 }), /handshake\.swarmId/);
      invalid(() => encodeDataMessage({ type: 'handshake', swarmId: hash(0), version: 256 }), /handshake\.version/);
      invalid(() => encodeDataMessage({ type: 'error', code: 0x100, text: '' }), /error\.code/);
      invalid(() => encodeDataMessage({ type: 'error', code: 1, text: 'x'.repeat(MAX_ERROR_TEXT_BYTES + 1) }), /error\.text/);
      invalid(() => encodeDataMessage({ type: 'ack' } as unknown as PpspDataMessage), /ack is not a data message/);
    });
  });

  describe('strict decoding', () => {
    it('refuses an empty frame and malformed CBOR', () => {
      invalid(() => decode(new Uint8Array(0)), /type missing/);
      invalid(() => decode(fromHex('830801')), /malformed CBOR/, 'malformed_cbor');
      invalid(() => decode(fromHex('8308010200')), /malformed CBOR/, 'malformed_cbor');
    });

    it('refuses anything but a non-empty array led by a known type', () => {
      invalid(() => decode(encodeCbor(8)), /type must lead a non-empty array/);
      invalid(() => decode(encodeCbor([])), /type must lead a non-empty array/);
      invalid(() => decode(encodeCbor({ 0: 8 })), /type must lead/);
      invalid(() => decode(encodeCbor([2, 0, 0])), /2 is not a data message type/);
      invalid(() => decode(encodeCbor(['request', 0, 0])), /request is not a data message type/);
      // DATA must be binary: a CBOR array of type 1 is refused.
      invalid(() => decode(encodeCbor([1, 0, new Uint8Array(1)])), /1 is not a data message type/);
    });

    it('refuses a wrong number of fields', () => {
      invalid(() => decode(encodeCbor([8, 0])), /type 8 must have 2 fields, got 1/);
      invalid(() => decode(encodeCbor([8, 0, 1, 2])), /type 8 must have 2 fields, got 3/);
      invalid(() => decode(encodeCbor([10, 0])), /type 10 must have 0 fields/);
      invalid(() => decode(encodeCbor([11, null])), /type 11 must have 0 fields/);
      invalid(() => decode(encodeCbor([0, hash(0)])), /type 0 must have 2 fields/);
      invalid(() => decode(encodeCbor([254, 1])), /type 254 must have 2 fields/);
      invalid(() => decode(encodeCbor([16, hash(1), 1, 1024, 'a.mp4'])), /type 16 must have 5 fields, got 4/);
      invalid(() => decode(encodeCbor([16, hash(1), 1, 1024, 7, null])), /metadata.name must be a text string/);
      invalid(() => decode(encodeCbor([15, 0, hash(1)])), /type 15 must have 3 fields, got 2/);
    });

    it('refuses fields of the wrong type or size, naming them', () => {
      invalid(() => decode(encodeCbor([0, new Uint8Array(33), 1])), /handshake\.swarmId must be a 32-byte string/);
      invalid(() => decode(encodeCbor([0, 'x'.repeat(32), 1])), /handshake\.swarmId/);
      invalid(() => decode(encodeCbor([0, hash(0), -1])), /handshake\.version/);
      invalid(() => decode(encodeCbor([8, -1, 0])), /request\.first/);
      invalid(() => decode(encodeCbor([9, 0, 'a'])), /cancel\.last/);
      invalid(() => decode(encodeCbor([3, 0, 2 ** 32])), /have\.last/);
      invalid(() => decode(encodeCbor([3, 0n, 1])), /have\.first/);
      invalid(() => decode(encodeCbor([8, 5, 4])), /request first 5 is after last 4/);
      invalid(() => decode(encodeCbor([254, 1, new Uint8Array(1)])), /error\.text must be a text string/);
      invalid(() => decode(encodeCbor([254, 1, 'x'.repeat(MAX_ERROR_TEXT_BYTES + 1)])), /error\.text is longer/);
      invalid(() => decode(encodeCbor([254, 256, ''])), /error\.code/);
      invalid(() => decode(encodeCbor([15, 0, hash(1).subarray(1), new Uint8Array(0)])), /hashes\.hashes/);
      invalid(() => decode(encodeCbor([15, 0, new Uint8Array(0), new Uint8Array(0)])), /hashes\.hashes/);
      invalid(() => decode(encodeCbor([15, 0, hash(1), hash(2).subarray(1)])), /hashes\.uncles must be a multiple of 32 bytes/);
      invalid(() => decode(encodeCbor([15, 0, hash(1), null])), /hashes\.uncles/);
      // One uncle per level of a tree of 2^32 chunks at most.
      expect(decode(encodeCbor([15, 0, hash(1), new Uint8Array(32 * HASH_BYTES)]))).to.have.property('type', 'hashes');
      invalid(() => decode(encodeCbor([15, 0, hash(1), new Uint8Array(33 * HASH_BYTES)])), /hashes\.uncles .*at most 32 hashes/);
    });

    it('refuses chunk ranges beyond the swarm with reason out_of_range', () => {
      for (const type of [8, 9, 3]) {
        invalid(() => decode(encodeCbor([type, 0, 100])), /last 100 is beyond the swarm's 100 chunks/, 'out_of_range');
        invalid(() => decode(encodeCbor([type, 100, 0xffffffff])), /beyond the swarm/, 'out_of_range');
      }
    });

    it('refuses a DATA index beyond the swarm with reason out_of_range', () => {
      invalid(() => decode(encodeDataMessage(data({ index: 100 }))), /data\.index 100 is beyond/, 'out_of_range');
      invalid(() => decode(encodeDataMessage(data({ index: 0xffffffff }))), /data\.index/, 'out_of_range');
    });

    it('refuses over-size DATA with Message_Too_Large', () => {
      const e = expectReloadError(() => decode(encodeDataMessage(data({ chunk: new Uint8Array(1025) }))), ErrorCode.Message_Too_Large);
      expect(e.message).to.match(/1025 bytes exceeds the chunk size 1024/);
      // The limit is the swarm's chunk size, not a fixed one.
      expectReloadError(() => decode(encodeDataMessage(data({ index: 0, chunk: new Uint8Array(17) })), { chunkCount: 1, maxChunkBytes: 16 }), ErrorCode.Message_Too_Large);
      expect(decode(encodeDataMessage(data({ index: 0, chunk: new Uint8Array(16) })), { chunkCount: 1, maxChunkBytes: 16 })).to.have.property('type', 'data');
    });

    it('refuses a truncated DATA header (1..4 bytes) and a DATA frame with no chunk bytes', () => {
      const frame = encodeDataMessage(data());
      for (let n = 1; n < DATA_HEADER_BYTES; n++) invalid(() => decode(frame.subarray(0, n)), new RegExp(`data\\.header needs 5 bytes, got ${n}`));
      invalid(() => decode(frame.subarray(0, DATA_HEADER_BYTES)), /data\.chunk missing/);
      invalid(() => decode(fromHex('0100000000')), /data\.chunk missing: frame of 5 bytes/);
    });

    it('before the handshake (BEFORE_HANDSHAKE) lets only messages without chunks through', () => {
      const handshake: PpspDataMessage = { type: 'handshake', swarmId: hash(7), version: PPSP_DATA_VERSION };
      expect(decode(encodeDataMessage(handshake), BEFORE_HANDSHAKE)).to.deep.equal(handshake);
      expect(decode(encodeDataMessage({ type: 'choke' }), BEFORE_HANDSHAKE)).to.deep.equal({ type: 'choke' });
      invalid(() => decode(encodeDataMessage({ type: 'request', first: 0, last: 0 }), BEFORE_HANDSHAKE), /beyond/, 'out_of_range');
      invalid(() => decode(encodeDataMessage(data({ index: 0 })), BEFORE_HANDSHAKE), /beyond/, 'out_of_range');
    });
  });
});
