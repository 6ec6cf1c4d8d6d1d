import { expect } from 'chai';
import { ErrorCode } from '../../../overlay/errors.js';
import { encodeCbor } from '../../../overlay/wire/cbor.js';
import {
  BEFORE_HANDSHAKE,
  DATA_HEADER_BYTES,
  decodeDataMessage,
  encodeDataMessage,
  encodeDataParts,
  HASH_BYTES,
  MAX_ERROR_TEXT_BYTES,
  merkleHeight,
  PPSP_DATA_VERSION,
  type DataMessage,
  type PpspDataMessage,
  type SwarmBounds,
} from '../../../usages/ppsp/data-messages.js';
import { expectReloadError } from '../../helpers/expect-reload-error.js';

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
  uncles: [hash(1), hash(2), hash(3)],
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
  [data({ index: 0x3c, uncles: [hash(0xcc)], chunk: Uint8Array.from([0xde, 0xad]) }), '01' + '0000003c' + '01' + 'cc'.repeat(32) + 'dead'],
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

    it('DATA is a 6-byte header, the uncles and the chunk as the tail, the chunk not copied by encodeDataParts', () => {
      const m = data();
      const [head, chunk] = encodeDataParts(m);
      expect(chunk).to.equal(m.chunk);
      expect(head.length).to.equal(DATA_HEADER_BYTES + 3 * HASH_BYTES);
      expect(hex(head.subarray(0, DATA_HEADER_BYTES))).to.equal('010000000703');
      expect(hex(encodeDataMessage(m))).to.equal(hex(Buffer.concat([head, chunk])));
    });

    it('decoded DATA fields are views into the frame, not copies', () => {
      const frame = encodeDataMessage(data());
      const m = decode(frame) as DataMessage;
      expect(m.chunk.buffer).to.equal(frame.buffer);
      expect(m.chunk.byteOffset).to.equal(frame.byteOffset + DATA_HEADER_BYTES + 3 * HASH_BYTES);
      for (const u of m.uncles) expect(u.buffer).to.equal(frame.buffer);
      expect(m.chunk).to.be.instanceOf(Buffer);
    });

    it('decodes DATA from a plain Uint8Array at an offset in a larger buffer', () => {
      const frame = encodeDataMessage(data());
      const big = new Uint8Array(frame.length + 10);
      big.set(frame, 5);
      const m = decode(big.subarray(5, 5 + frame.length)) as DataMessage;
      expect(m.index).to.equal(7);
      expect([...m.chunk]).to.deep.equal([9, 8, 7, 6]);
      expect(m.uncles.map((u) => u[0])).to.deep.equal([1, 2, 3]);
    });

    it('accepts a chunk of exactly the chunk size, the last chunk index, and as many uncles as the tree is high', () => {
      const m = data({ index: 99, chunk: new Uint8Array(1024).fill(5), uncles: Array.from({ length: 7 }, (_, i) => hash(i)) });
      expect(decode(encodeDataMessage(m))).to.deep.equal(m);
      expect(decode(encodeDataMessage({ type: 'request', first: 0, last: 99 }))).to.deep.equal({ type: 'request', first: 0, last: 99 });
      expect(decode(encodeDataMessage(data({ uncles: [] })))).to.deep.equal(data({ uncles: [] }));
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
      invalid(() => encodeDataMessage(data({ uncles: [new Uint8Array(31)] })), /data\.uncles\[0\]/);
      invalid(() => encodeDataMessage(data({ uncles: Array.from({ length: 256 }, () => hash(0)) })), /data\.uncles/);
      invalid(() => encodeDataMessage(data({ chunk: new Uint8Array(0) })), /data\.chunk/);
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
      invalid(() => decode(encodeCbor([1, 0, [], new Uint8Array(1)])), /1 is not a data message type/);
    });

    it('refuses a wrong number of fields', () => {
      invalid(() => decode(encodeCbor([8, 0])), /type 8 must have 2 fields, got 1/);
      invalid(() => decode(encodeCbor([8, 0, 1, 2])), /type 8 must have 2 fields, got 3/);
      invalid(() => decode(encodeCbor([10, 0])), /type 10 must have 0 fields/);
      invalid(() => decode(encodeCbor([11, null])), /type 11 must have 0 fields/);
      invalid(() => decode(encodeCbor([0, hash(0)])), /type 0 must have 2 fields/);
      invalid(() => decode(encodeCbor([254, 1])), /type 254 must have 2 fields/);
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
    });

    it('refuses truncated DATA, a missing chunk and more uncles than the tree is high', () => {
      const frame = encodeDataMessage(data());
      for (let n = 1; n < DATA_HEADER_BYTES; n++) invalid(() => decode(frame.subarray(0, n)), /data\.header needs 6 bytes/);
      invalid(() => decode(frame.subarray(0, DATA_HEADER_BYTES + 3 * HASH_BYTES)), /data\.chunk missing/);
      invalid(() => decode(frame.subarray(0, DATA_HEADER_BYTES + 40)), /data\.chunk missing/);
      expect(merkleHeight(BOUNDS.chunkCount)).to.equal(7);
      const eight = encodeDataMessage(data({ uncles: Array.from({ length: 8 }, () => hash(0)) }));
      invalid(() => decode(eight), /data\.uncles 8 hashes, more than the tree height 7/);
      invalid(() => decode(encodeDataMessage(data({ index: 0, uncles: [hash(0)] })), { chunkCount: 1, maxChunkBytes: 16 }), /tree height 0/);
    });

    it('before the handshake (BEFORE_HANDSHAKE) lets only messages without chunks through', () => {
      const handshake: PpspDataMessage = { type: 'handshake', swarmId: hash(7), version: PPSP_DATA_VERSION };
      expect(decode(encodeDataMessage(handshake), BEFORE_HANDSHAKE)).to.deep.equal(handshake);
      expect(decode(encodeDataMessage({ type: 'choke' }), BEFORE_HANDSHAKE)).to.deep.equal({ type: 'choke' });
      invalid(() => decode(encodeDataMessage({ type: 'request', first: 0, last: 0 }), BEFORE_HANDSHAKE), /beyond/, 'out_of_range');
      invalid(() => decode(encodeDataMessage(data({ index: 0 })), BEFORE_HANDSHAKE), /beyond/, 'out_of_range');
    });
  });

  it('merkleHeight is ceil(log2(chunkCount))', () => {
    const cases: [number, number][] = [[0, 0], [1, 0], [2, 1], [3, 2], [4, 2], [5, 3], [1024, 10], [1025, 11], [2 ** 32, 32]];
    for (const [count, height] of cases) expect(merkleHeight(count), String(count)).to.equal(height);
  });
});
