/**
 * The PPSPP datagram codec against RFC 7574's layouts, byte for byte. Every expected hex string is
 * written out by hand from the layouts of §7 and §8 (the draft's text and section numbers, below) with the field layout in a comment; none comes
 * from our encoder. The first six datagrams are the protocol's worked example (§8.17 of
 * draft-ietf-ppsp-peer-protocol-10, the RFC's last draft: the stored material did not hold RFC 7574's own text).
 */
import { expect } from 'chai';
import { ErrorCode } from '../../../../overlay/errors.js';
import {
  allBin,
  binAt,
  binChunks,
  binLayer,
  binOffset,
  binsOfChunkRange,
  emptyBin,
} from '../../../../usages/ppsp/ppspp/ppspp-chunk-spec.js';
import { DEFAULT_PPSPP_CONTEXT, type PpsppContext } from '../../../../usages/ppsp/ppspp/ppspp-context.js';
import { decodeDatagram, encodeDatagram, isKeepAlive, MAX_DATAGRAM_BYTES } from '../../../../usages/ppsp/ppspp/ppspp-datagram.js';
import { isClosingHandshake, MAX_PEX_CERTIFICATE_BYTES, type HandshakeMessage, type PpsppMessage } from '../../../../usages/ppsp/ppspp/ppspp-messages.js';
import { findOption, VARIABLE_CHUNK_SIZE, type ProtocolOption } from '../../../../usages/ppsp/ppspp/ppspp-options.js';
import { expectReloadError } from '../../../helpers/expect-reload-error.js';

const fromHex = (h: string) => Uint8Array.from(Buffer.from(h.replace(/\s+/g, ''), 'hex'));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const ctx = (over: Partial<PpsppContext>): PpsppContext => ({ ...DEFAULT_PPSPP_CONTEXT, ...over });
const SWARM_ID = fromHex('47a0' + '11'.repeat(16) + 'b03b'); // the example elides the middle of its 20-byte root hash
const cr32 = (start: number, end: number) => ({ addressing: 'chunkRanges32', start, end }) as const;

/** Asserts `wire` decodes (under `context`) to `channel`/`messages` and that those encode back to `wire`. */
function golden(wire: string, channel: number, messages: PpsppMessage[], context: PpsppContext = DEFAULT_PPSPP_CONTEXT): ReturnType<typeof decodeDatagram> {
  const bytes = fromHex(wire);
  const decoded = decodeDatagram(bytes, context);
  expect(decoded.channel).to.equal(channel);
  expect(decoded.messages).to.deep.equal(messages);
  expect(hex(encodeDatagram(channel, messages, context))).to.equal(hex(bytes));
  return decoded;
}

function invalid(wire: string | Uint8Array, field: RegExp, reason?: string, context: PpsppContext = DEFAULT_PPSPP_CONTEXT): void {
  const bytes = typeof wire === 'string' ? fromHex(wire) : wire;
  expectReloadError(() => decodeDatagram(bytes, context), ErrorCode.Invalid_Message, reason === undefined ? { message: field } : { message: field, reason });
}

describe('PPSPP wire codec (RFC 7574)', () => {
  describe("the worked example of the RFC's last draft (its §8.17)", () => {
    it('initiator HANDSHAKE: version, minimum version, swarm ID, integrity, hash function, addressing', () => {
      const options: ProtocolOption[] = [
        { kind: 'version', value: 1 },
        { kind: 'minimumVersion', value: 1 },
        { kind: 'swarmId', value: SWARM_ID },
        { kind: 'contentIntegrityProtectionMethod', value: 'merkleHashTree' },
        { kind: 'merkleHashTreeFunction', value: 'sha1' },
        { kind: 'chunkAddressingMethod', value: 'chunkRanges32' },
      ];
      // dest channel 0 | HANDSHAKE 00 | src channel 1 | 00 01 version 1 | 01 01 min version 1 |
      // 02 0014 swarm ID (20 bytes) | 03 01 Merkle Hash Tree | 04 00 SHA-1 | 06 02 32-bit chunk ranges | ff end
      const d = golden(
        '00000000 00 00000001 0001 0101 02 0014' + hex(SWARM_ID) + '0301 0400 0602 ff',
        0,
        [{ type: 'handshake', sourceChannel: 1, options }],
      );
      expect(d.versionNotices).to.deep.equal([]);
      expect(d.context).to.deep.equal(DEFAULT_PPSPP_CONTEXT);
    });

    it('responder HANDSHAKE + HAVE in one datagram', () => {
      // dest channel 1 | HANDSHAKE 00 | src channel 8 | 00 01 | 03 01 | 04 00 | 06 02 | ff | HAVE 03 | start 0 | end 0
      golden('00000001 00 00000008 0001 0301 0400 0602 ff 03 00000000 00000000', 1, [
        {
          type: 'handshake',
          sourceChannel: 8,
          options: [
            { kind: 'version', value: 1 },
            { kind: 'contentIntegrityProtectionMethod', value: 'merkleHashTree' },
            { kind: 'merkleHashTreeFunction', value: 'sha1' },
            { kind: 'chunkAddressingMethod', value: 'chunkRanges32' },
          ],
        },
        { type: 'have', chunks: cr32(0, 0) },
      ]);
    });

    it('REQUEST + PEX_REQ', () => {
      // dest channel 8 | REQUEST 08 | start 0 | end 0 | PEX_REQ 06
      golden('00000008 08 00000000 00000000 06', 8, [{ type: 'request', chunks: cr32(0, 0) }, { type: 'pexReq' }]);
    });

    it('DATA with the "Hello world!" chunk runs to the end of the datagram', () => {
      // dest channel 1 | DATA 01 | start 0 | end 0 | timestamp 0004e94180b7db44 | "Hello world!"
      golden('00000001 01 00000000 00000000 0004e94180b7db44 48656c6c6f20776f726c6421', 1, [
        { type: 'data', chunks: cr32(0, 0), timestamp: 0x0004e94180b7db44n, data: Uint8Array.from(Buffer.from('Hello world!')) },
      ]);
    });

    it('ACK with a one-way delay sample, then HAVE', () => {
      // dest channel 8 | ACK 02 | start 0 | end 0 | delay sample 0x64 (64 bits) | HAVE 03 | start 0 | end 0
      golden('00000008 02 00000000 00000000 0000000000000064 03 00000000 00000000', 8, [
        { type: 'ack', chunks: cr32(0, 0), delaySample: 100n },
        { type: 'have', chunks: cr32(0, 0) },
      ]);
    });

    it('closing HANDSHAKE: source channel 0 and an empty option list', () => {
      // dest channel 8 | HANDSHAKE 00 | src channel 0 | ff end
      const d = golden('00000008 00 00000000 ff', 8, [{ type: 'handshake', sourceChannel: 0, options: [] }]);
      expect(isClosingHandshake(d.messages[0]!)).to.equal(true);
    });
  });

  describe('datagrams', () => {
    it('a keep-alive is the channel ID alone (§8.14)', () => {
      const d = golden('0000abcd', 0xabcd, []);
      expect(isKeepAlive(d)).to.equal(true);
      expect(isKeepAlive(decodeDatagram(fromHex('0000abcd 0a')))).to.equal(false);
    });

    it('a closing HANDSHAKE may carry its maximum version (§8.4)', () => {
      // dest 5 | HANDSHAKE | src 0 | 00 01 version 1 | ff
      golden('00000005 00 00000000 0001 ff', 5, [{ type: 'handshake', sourceChannel: 0, options: [{ kind: 'version', value: 1 }] }]);
    });

    it('a HANDSHAKE switching to 32-bit bins sets the width of the HAVE after it, and the context returned', () => {
      // dest 0 | HANDSHAKE | src 0x01020304 | 00 01 | 06 00 32-bit bins | ff | HAVE 03 | bin 00000003 (4 bytes, not 8)
      const d = golden(
        '00000000 00 01020304 0001 0600 ff 03 00000003',
        0,
        [
          { type: 'handshake', sourceChannel: 0x01020304, options: [{ kind: 'version', value: 1 }, { kind: 'chunkAddressingMethod', value: 'bins32' }] },
          { type: 'have', chunks: { addressing: 'bins32', bin: 3 } },
        ],
      );
      expect(d.context).to.deep.equal(ctx({ chunkAddressing: 'bins32' }));
      // The same bytes under the default 32-bit chunk ranges would need 8 bytes for the HAVE.
      invalid('00000000 03 00000003', /have\.chunks\.end needs 4 bytes/, 'truncated');
    });

    it('a HANDSHAKE switching the hash function sets the INTEGRITY hash length after it', () => {
      // dest 9 | HANDSHAKE | src 7 | 04 02 SHA-256 | ff | INTEGRITY 04 | start 0 | end 1 | 32-byte hash
      const d = golden('00000009 00 00000007 0402 ff 04 00000000 00000001' + 'cd'.repeat(32), 9, [
        { type: 'handshake', sourceChannel: 7, options: [{ kind: 'merkleHashTreeFunction', value: 'sha256' }] },
        { type: 'integrity', chunks: cr32(0, 1), hash: fromHex('cd'.repeat(32)) },
      ]);
      expect(d.context.merkleHashFunction).to.equal('sha256');
    });

    it('several messages in one datagram, processed in order, DATA last', () => {
      // dest 0x11223344 | INTEGRITY 04 0..3 + SHA-1 (20) | HAVE 03 0..3 | CHOKE 0a | UNCHOKE 0b | CANCEL 09 4..4 |
      // DATA 01 3..3 timestamp 1 data aa bb
      golden(
        '11223344 04 00000000 00000003' + 'ee'.repeat(20) + '03 00000000 00000003 0a 0b 09 00000004 00000004 01 00000003 00000003 0000000000000001 aabb',
        0x11223344,
        [
          { type: 'integrity', chunks: cr32(0, 3), hash: fromHex('ee'.repeat(20)) },
          { type: 'have', chunks: cr32(0, 3) },
          { type: 'choke' },
          { type: 'unchoke' },
          { type: 'cancel', chunks: cr32(4, 4) },
          { type: 'data', chunks: cr32(3, 3), timestamp: 1n, data: fromHex('aabb') },
        ],
      );
    });

    it('the encoder refuses a DATA that is not last, and a datagram over the UDP maximum', () => {
      const data: PpsppMessage = { type: 'data', chunks: cr32(0, 0), timestamp: 0n, data: fromHex('01') };
      expect(() => encodeDatagram(1, [data, { type: 'choke' }])).to.throw(Error, /DATA is message 0 of 2.*must be the last/);
      const big: PpsppMessage = { ...data, data: new Uint8Array(MAX_DATAGRAM_BYTES) };
      expect(() => encodeDatagram(1, [big])).to.throw(Error, /exceed the 65507/);
    });

    it('the encoder refuses a chunk spec of another addressing method than the channel', () => {
      expectReloadError(() => encodeDatagram(1, [{ type: 'have', chunks: { addressing: 'bins32', bin: 1 } }]), ErrorCode.Invalid_Message, { message: /have\.chunks is addressed as bins32, the channel uses chunkRanges32/ });
    });
  });

  describe('chunk specs under each addressing method (§4, Table 6)', () => {
    it('32-bit bins: HAVE of bin 1 is "0300000001" (§8.2)', () => {
      golden('00000001 0300000001', 1, [{ type: 'have', chunks: { addressing: 'bins32', bin: 1 } }], ctx({ chunkAddressing: 'bins32' }));
    });
    it('64-bit byte ranges: REQUEST of bytes 0..1023', () => {
      // REQUEST 08 | start 0 (64) | end 0x3ff (64)
      golden('00000001 08 0000000000000000 00000000000003ff', 1, [{ type: 'request', chunks: { addressing: 'byteRanges64', start: 0n, end: 1023n } }], ctx({ chunkAddressing: 'byteRanges64' }));
    });
    it('32-bit chunk ranges: CANCEL of chunks 5..0xffffffff', () => {
      golden('00000001 09 00000005 ffffffff', 1, [{ type: 'cancel', chunks: cr32(5, 0xffffffff) }]);
    });
    it('64-bit bins: HAVE of the empty bin, all ones (§4.2)', () => {
      golden('00000001 03 ffffffffffffffff', 1, [{ type: 'have', chunks: { addressing: 'bins64', bin: 2n ** 64n - 1n } }], ctx({ chunkAddressing: 'bins64' }));
    });
    it('64-bit chunk ranges: ACK of chunks 2^32..2^32+1 with delay sample 2^64-1', () => {
      // ACK 02 | start 0000000100000000 | end 0000000100000001 | delay ffffffffffffffff
      golden('00000001 02 0000000100000000 0000000100000001 ffffffffffffffff', 1, [
        { type: 'ack', chunks: { addressing: 'chunkRanges64', start: 2n ** 32n, end: 2n ** 32n + 1n }, delaySample: 2n ** 64n - 1n },
      ], ctx({ chunkAddressing: 'chunkRanges64' }));
    });
  });

  describe('every other message type (§8.8-8.13)', () => {
    for (const [fn, bytes] of [['sha1', 20], ['sha224', 28], ['sha256', 32], ['sha384', 48], ['sha512', 64]] as const) {
      it(`INTEGRITY with a ${fn} hash of ${bytes} bytes`, () => {
        // INTEGRITY 04 | start 2 | end 3 | hash
        golden('00000001 04 00000002 00000003' + '5a'.repeat(bytes), 1, [{ type: 'integrity', chunks: cr32(2, 3), hash: fromHex('5a'.repeat(bytes)) }], ctx({ merkleHashFunction: fn }));
      });
    }
    it('SIGNED_INTEGRITY with an ECDSAP256SHA256 signature (64 bytes, the default algorithm)', () => {
      // SIGNED_INTEGRITY 07 | start 0 | end 7 | NTP timestamp | signature (64)
      golden('00000001 07 00000000 00000007 e0e1e2e3e4e5e6e7' + '77'.repeat(64), 1, [
        { type: 'signedIntegrity', chunks: cr32(0, 7), timestamp: 0xe0e1e2e3e4e5e6e7n, signature: fromHex('77'.repeat(64)) },
      ]);
    });
    it('SIGNED_INTEGRITY with ECDSAP384SHA384 (96 bytes) and with an RSA key length from the context', () => {
      golden('00000001 07 00000000 00000000 0000000000000001' + '96'.repeat(96), 1, [
        { type: 'signedIntegrity', chunks: cr32(0, 0), timestamp: 1n, signature: fromHex('96'.repeat(96)) },
      ], ctx({ liveSignatureAlgorithm: 14 }));
      golden('00000001 07 00000000 00000000 0000000000000001' + '52'.repeat(128), 1, [
        { type: 'signedIntegrity', chunks: cr32(0, 0), timestamp: 1n, signature: fromHex('52'.repeat(128)) },
      ], ctx({ liveSignatureAlgorithm: 5, signatureBytes: 128 }));
    });
    it('PEX_RESv4: 192.0.2.1 port 6778', () => {
      // PEX_RESv4 05 | c0000201 | 1a7a
      golden('00000001 05 c0000201 1a7a', 1, [{ type: 'pexResV4', address: fromHex('c0000201'), port: 6778 }]);
    });
    it('PEX_RESv6: 2001:db8::1 port 6778', () => {
      // PEX_RESv6 0c | 20010db8000000000000000000000001 | 1a7a
      golden('00000001 0c 20010db8000000000000000000000001 1a7a', 1, [{ type: 'pexResV6', address: fromHex('20010db8000000000000000000000001'), port: 6778 }]);
    });
    it('PEX_REScert: 16-bit length then the certificate', () => {
      // PEX_REScert 0d | 0003 | 308100
      golden('00000001 0d 0003 308100', 1, [{ type: 'pexResCert', certificate: fromHex('308100') }]);
    });
    it('PEX_REQ, CHOKE, UNCHOKE carry no payload', () => {
      golden('00000001 06 0a 0b', 1, [{ type: 'pexReq' }, { type: 'choke' }, { type: 'unchoke' }]);
    });
  });

  describe('FRAME_PART (253): our extension, only from a peer that lists it (§7.10)', () => {
    const part = { type: 'framePart', seq: 7, frameLength: 5, offset: 2, part: fromHex('aabbcc') } as const;
    it('is read on a channel whose peer listed it, and never on any other', () => {
      // FRAME_PART fd | seq 7 | frame length 5 | offset 2 | part length 3 | aabbcc
      golden('00000001 fd 00000007 00000005 00000002 0003 aabbcc', 1, [part], ctx({ frameParts: true }));
      invalid('00000001 fd 00000007 00000005 00000002 0003 aabbcc', /message\.type 253 is not a PPSPP message type/, 'unknown_message_type');
    });
    it('a HANDSHAKE listing 253 among its supported messages lets the rest of its datagram carry one', () => {
      // HANDSHAKE 00 | source channel 9 | supported messages 08, 32 bytes, bit 253 only | End ff | FRAME_PART
      const bitmap = '00'.repeat(31) + '04';
      const decoded = golden(`00000000 00 00000009 08 20 ${bitmap} ff fd 00000000 00000001 00000000 0001 5a`, 0, [
        { type: 'handshake', sourceChannel: 9, options: [{ kind: 'supportedMessages', value: [253] }] },
        { type: 'framePart', seq: 0, frameLength: 1, offset: 0, part: fromHex('5a') },
      ]);
      expect(decoded.context.frameParts).to.equal(true);
    });
    it('refuses a part outside its frame, an empty part and a frame of no or too many bytes', () => {
      const on = ctx({ frameParts: true });
      invalid('00000001 fd 00000001 00000004 00000002 0003 aabbcc', /framePart\.part bytes 2\.\.5 are not inside/, 'out_of_range', on);
      invalid('00000001 fd 00000001 00000004 00000000 0000', /framePart\.part/, 'out_of_range', on);
      invalid('00000001 fd 00000001 00000000 00000000 0001 aa', /framePart\.frameLength is 0/, 'out_of_range', on);
      invalid('00000001 fd 00000001 7fffffff 00000000 0001 aa', /framePart\.frameLength is 2147483647/, 'out_of_range', on);
      invalid('00000001 fd 00000001 00000004 00000000 0003 aabb', /framePart\.part/, undefined, on);
    });
  });

  describe('protocol options (§7)', () => {
    const handshake = (options: string) => '00000000 00 00000001 ' + options + ' ff';
    const one = (wire: string, options: ProtocolOption[]) => golden(handshake(wire), 0, [{ type: 'handshake', sourceChannel: 1, options }]);

    it('content integrity methods 0..3', () => {
      // 03 <method>: one handshake per method, as an option may appear once
      for (const [code, value] of [['00', 'none'], ['01', 'merkleHashTree'], ['02', 'signAll'], ['03', 'unifiedMerkleTree']] as const) one('03' + code, [{ kind: 'contentIntegrityProtectionMethod', value }]);
    });
    it('Merkle hash functions 0..4', () => {
      for (const [code, value] of [['00', 'sha1'], ['01', 'sha224'], ['02', 'sha256'], ['03', 'sha384'], ['04', 'sha512']] as const) one('04' + code, [{ kind: 'merkleHashTreeFunction', value }]);
    });
    it('live signature algorithm: a DNSSEC number (05 0e: 14, ECDSAP384SHA384)', () => {
      const d = one('050e', [{ kind: 'liveSignatureAlgorithm', value: 14 }]);
      expect(d.context.liveSignatureAlgorithm).to.equal(14);
    });
    it('chunk addressing methods 0..4', () => {
      for (const [code, value] of [['00', 'bins32'], ['01', 'byteRanges64'], ['02', 'chunkRanges32'], ['03', 'bins64'], ['04', 'chunkRanges64']] as const) {
        expect(one('06' + code, [{ kind: 'chunkAddressingMethod', value }]).context.chunkAddressing).to.equal(value);
      }
    });
    it('live discard window: 32 bits after a 32-bit method, 64 bits after a 64-bit one (§7.9)', () => {
      // 06 00 bins32 | 07 ffffffff (never discards)
      one('0600 07ffffffff', [{ kind: 'chunkAddressingMethod', value: 'bins32' }, { kind: 'liveDiscardWindow', value: 0xffffffffn }]);
      // 06 02 chunkRanges32 | 07 00000400
      one('0602 0700000400', [{ kind: 'chunkAddressingMethod', value: 'chunkRanges32' }, { kind: 'liveDiscardWindow', value: 1024n }]);
      // 06 01 byteRanges64 | 07 0000000000100000
      one('0601 070000000000100000', [{ kind: 'chunkAddressingMethod', value: 'byteRanges64' }, { kind: 'liveDiscardWindow', value: 0x100000n }]);
      // 06 03 bins64 | 07 ffffffffffffffff
      one('0603 07ffffffffffffffff', [{ kind: 'chunkAddressingMethod', value: 'bins64' }, { kind: 'liveDiscardWindow', value: 2n ** 64n - 1n }]);
    });
    it('supported messages: a bitmap, message type X at bit X from the left, truncated after its last non-zero byte (§7.10)', () => {
      // 08 | 02 | ff fc = types 0..13
      one('08 02 fffc', [{ kind: 'supportedMessages', value: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13] }]);
      // 08 | 01 | b0 = 1011 0000: types 0 HANDSHAKE, 2 ACK, 3 HAVE
      one('08 01 b0', [{ kind: 'supportedMessages', value: [0, 2, 3] }]);
      // 08 | 00: supports nothing
      one('08 00', [{ kind: 'supportedMessages', value: [] }]);
      // 08 | 20 | 31 zero bytes, then 01 = type 255
      one('08 20' + '00'.repeat(31) + '01', [{ kind: 'supportedMessages', value: [255] }]);
    });
    it('chunk size: 32 bits, 0xffffffff for variable sizes (§7.11)', () => {
      one('09 00000400', [{ kind: 'chunkSize', value: 1024 }]);
      one('09 ffffffff', [{ kind: 'chunkSize', value: VARIABLE_CHUNK_SIZE }]);
    });
    it('options keep the order the peer sent them in', () => {
      const d = one('0402 0001 0603', [{ kind: 'merkleHashTreeFunction', value: 'sha256' }, { kind: 'version', value: 1 }, { kind: 'chunkAddressingMethod', value: 'bins64' }]);
      expect(findOption((d.messages[0] as HandshakeMessage).options, 'chunkAddressingMethod')).to.equal('bins64');
    });
    it('another version is reported, not refused (§7.2-7.3)', () => {
      // 00 02 version 2 | 01 01 minimum 1: we can still speak 1
      const d = one('0002 0101', [{ kind: 'version', value: 2 }, { kind: 'minimumVersion', value: 1 }]);
      expect(d.versionNotices).to.deep.equal([{ messageIndex: 0, version: 2, minimumVersion: 1, acceptsOurVersion: true }]);
      // 00 03 | 01 02: only 2..3
      expect(one('0003 0102', [{ kind: 'version', value: 3 }, { kind: 'minimumVersion', value: 2 }]).versionNotices[0]?.acceptsOurVersion).to.equal(false);
    });
  });

  describe('malformed datagrams are Invalid_Message naming the field', () => {
    it('shorter than a channel ID, or longer than a UDP datagram', () => {
      invalid('000000', /datagram\.channel needs 4 bytes/, 'truncated');
      invalid(new Uint8Array(MAX_DATAGRAM_BYTES + 1), /datagram of 65508 bytes exceeds 65507/, 'too_large');
    });
    it('an unknown message type: nothing after it can be parsed', () => {
      invalid('00000001 0e', /message\.type 14 is not a PPSPP message type/, 'unknown_message_type');
      invalid('00000001 0a ff 0a', /message\.type 255 is not/, 'unknown_message_type');
    });
    it('truncated fields', () => {
      invalid('00000001 03 00000000 000000', /have\.chunks\.end needs 4 bytes, the datagram has 3 left/, 'truncated');
      invalid('00000001 02 00000000 00000000 00000000', /ack\.delaySample needs 8 bytes/, 'truncated');
      invalid('00000001 05 c0000201 1a', /pexResV4\.port needs 2 bytes/, 'truncated');
      invalid('00000001 0c 20010db8', /pexResV6\.address needs 16 bytes/, 'truncated');
      invalid('00000001 01 00000000 00000000 00000000000000', /data\.timestamp needs 8 bytes/, 'truncated');
      invalid('00000001 01 00000000 00000000 0000000000000000', /data\.data is empty/, 'truncated');
      invalid('00000001 00 000001', /handshake\.sourceChannel needs 4 bytes/, 'truncated');
      invalid('00000000 00 00000001 0001', /handshake\.options\.code needs 1 bytes/, 'truncated'); // no End option
      invalid('00000000 00 00000001 0602 07 0000', /handshake\.options\.liveDiscardWindow needs 4 bytes/, 'truncated');
    });
    it('a hash or signature shorter than the context says', () => {
      invalid('00000001 04 00000000 00000000' + 'aa'.repeat(19), /integrity\.hash needs 20 bytes, the datagram has 19 left/, 'truncated');
      invalid('00000001 04 00000000 00000000' + 'aa'.repeat(20), /integrity\.hash needs 32 bytes/, 'truncated', ctx({ merkleHashFunction: 'sha256' }));
      invalid('00000001 07 00000000 00000000 0000000000000000' + 'aa'.repeat(63), /signedIntegrity\.signature needs 64 bytes/, 'truncated');
      invalid('00000001 07 00000000 00000000 0000000000000000' + 'aa'.repeat(128), /signedIntegrity\.signature has no known length: live signature algorithm 5/, 'unknown_length', ctx({ liveSignatureAlgorithm: 5 }));
    });
    it('bad lengths', () => {
      invalid('00000001 0d 0000', /pexResCert\.length is 0, outside 1\.\.4096/, 'out_of_range');
      invalid('00000001 0d 1001' + 'aa'.repeat(MAX_PEX_CERTIFICATE_BYTES + 1), /pexResCert\.length is 4097/, 'out_of_range');
      invalid('00000001 0d 0004 aabbcc', /pexResCert\.certificate needs 4 bytes, the datagram has 3 left/, 'truncated');
      invalid('00000000 00 00000001 02 0000 ff', /swarmId\.length is 0/, 'out_of_range');
      invalid('00000000 00 00000001 02 0010 aabb ff', /handshake\.options\.swarmId needs 16 bytes/, 'truncated');
      invalid('00000000 00 00000001 08 21' + 'ff'.repeat(33) + 'ff', /supportedMessages\.length is 33/, 'out_of_range');
      invalid('00000000 00 00000001 08 02 f000 ff', /supportedMessages ends with a zero byte/, 'out_of_range');
    });
    it('an unknown protocol option', () => {
      invalid('00000000 00 00000001 0a 00 ff', /handshake\.options\.code 10 is not a protocol option/, 'unknown_option');
      invalid('00000000 00 00000001 fe ff', /handshake\.options\.code 254 is not/, 'unknown_option');
    });
    it('an option value out of range', () => {
      invalid('00000000 00 00000001 0304 ff', /contentIntegrityProtectionMethod 4 is unassigned/, 'out_of_range');
      invalid('00000000 00 00000001 0405 ff', /merkleHashTreeFunction 5 is unassigned/, 'out_of_range');
      invalid('00000000 00 00000001 0605 ff', /chunkAddressingMethod 5 is unassigned/, 'out_of_range');
      invalid('00000000 00 00000001 09 00000000 ff', /chunkSize is 0/, 'out_of_range');
    });
    it('an option twice, or a live discard window before its chunk addressing method', () => {
      invalid('00000000 00 00000001 0001 0001 ff', /handshake\.options\.version appears twice/, 'duplicate_option');
      invalid('00000000 00 00000001 07 00000001 0600 ff', /liveDiscardWindow comes before any chunkAddressingMethod/, 'out_of_order');
    });
    it('a closing handshake with more than the version', () => {
      invalid('00000001 00 00000000 02 0001 aa ff', /handshake\.options of a closing handshake may hold only the version/, 'out_of_range');
    });
    it('a range that ends before it starts', () => {
      invalid('00000001 08 00000002 00000001', /request\.chunks ends at 1, before its start 2/, 'out_of_range');
      invalid('00000001 08 0000000000000002 0000000000000001', /request\.chunks ends at 1, before its start 2/, 'out_of_range', ctx({ chunkAddressing: 'byteRanges64' }));
    });
  });

  describe('bin numbers (§4.2)', () => {
    it('the tree of Figure 2: layers, offsets, chunks', () => {
      // bin: [layer, offset, first chunk, last chunk]
      const figure: [bigint, number, bigint, bigint, bigint][] = [
        [0n, 0, 0n, 0n, 0n],
        [2n, 0, 1n, 1n, 1n],
        [1n, 1, 0n, 0n, 1n],
        [5n, 1, 1n, 2n, 3n],
        [3n, 2, 0n, 0n, 3n],
        [11n, 2, 1n, 4n, 7n],
        [13n, 1, 3n, 6n, 7n],
        [7n, 3, 0n, 0n, 7n],
      ];
      for (const [bin, layer, offset, first, last] of figure) {
        expect(binLayer(bin, 32), `layer of ${bin}`).to.equal(layer);
        expect(binOffset(bin, 32), `offset of ${bin}`).to.equal(offset);
        expect(binAt(layer, offset, 32)).to.equal(bin);
        expect(binChunks(bin, 64)).to.deep.equal({ first, last });
      }
    });
    it('the empty and the everything bins', () => {
      expect(emptyBin(32)).to.equal(0xffffffffn);
      expect(allBin(32)).to.equal(0x7fffffffn);
      expect(binChunks(allBin(32), 32)).to.deep.equal({ first: 0n, last: 2n ** 31n - 1n });
      expect(binChunks(allBin(64), 64)).to.deep.equal({ first: 0n, last: 2n ** 63n - 1n });
      expect(() => binChunks(emptyBin(32), 32)).to.throw(RangeError, /empty interval/);
      expect(() => binAt(31, 1n, 32)).to.throw(RangeError);
      // 0xffffffff is a real bin in 64-bit numbering: layer 32, chunks 0..2^32-1.
      expect(binChunks(0xffffffffn, 64)).to.deep.equal({ first: 0n, last: 2n ** 32n - 1n });
    });
    it('a chunk range as the fewest bins', () => {
      expect(binsOfChunkRange(0n, 7n, 32)).to.deep.equal([7n]);
      expect(binsOfChunkRange(1n, 6n, 32)).to.deep.equal([2n, 5n, 9n, 12n]);
      expect(binsOfChunkRange(4n, 4n, 64)).to.deep.equal([8n]);
      expect(binsOfChunkRange(0n, 2n ** 31n - 1n, 32)).to.deep.equal([allBin(32)]);
      expect(() => binsOfChunkRange(3n, 2n, 32)).to.throw(RangeError);
    });
  });
});
