/**
 * The PPSPP messages of the UDP encapsulation (RFC 7574 §8.4-8.13), each a 1-byte type (Table 7)
 * then its fields, big-endian, with no length of its own: where a message ends follows from its
 * type and the channel's context (ppspp-context.ts).
 *
 *   0  HANDSHAKE        source channel u32, protocol options to End (§8.4, ppspp-options.ts)
 *   1  DATA             chunk spec, timestamp u64 (µs), the chunk: the rest of the datagram (§8.6)
 *   2  ACK              chunk spec, one-way delay sample u64 (µs) (§8.7)
 *   3  HAVE             chunk spec (§8.5)
 *   4  INTEGRITY        chunk spec, hash of the Merkle hash function's length (§8.8)
 *   5  PEX_RESv4        IPv4 address (4 bytes), UDP port u16 (§8.13)
 *   6  PEX_REQ          nothing (§8.13)
 *   7  SIGNED_INTEGRITY chunk spec, timestamp u64 (NTP), signature of the algorithm's length (§8.9)
 *   8  REQUEST          chunk spec (§8.10)
 *   9  CANCEL           chunk spec (§8.11)
 *  10  CHOKE            nothing (§8.12)
 *  11  UNCHOKE          nothing (§8.12)
 *  12  PEX_RESv6        IPv6 address (16 bytes), UDP port u16 (§8.13)
 *  13  PEX_REScert      certificate length u16, DER certificate (§8.13)
 * 253  FRAME_PART       ours: frame seq u32, frame length u32, offset u32, part length u16, the part
 *                      (only on a channel whose peer listed 253 among its supported messages, §7.10)
 *
 * A type outside Table 7 is refused, reason `unknown_message_type`: with no length field nothing
 * after it can be found, so the datagram is unreadable from there on. A closing HANDSHAKE (source
 * channel 0) may carry no option but the version (§8.4). The 64-bit timestamps and delay samples are
 * kept as the unsigned integers on the wire; what they mean (clocks, NTP format) is LEDBAT's and the
 * live source's concern. Byte fields are views into the datagram.
 */
import { fail } from '../../../overlay/index.js';
import { readChunkSpec, writeChunkSpec, type ChunkSpec } from './ppspp-chunk-spec.js';
import { FRAME_PART_TYPE, hashBytes, signatureBytes, type PpsppContext } from './ppspp-context.js';
import { readProtocolOptions, writeProtocolOptions, type ProtocolOption } from './ppspp-options.js';
import type { WireReader, WireWriter } from './ppspp-wire-fields.js';

/** Message types (Table 7). */
export const MESSAGE_TYPE = {
  handshake: 0,
  data: 1,
  ack: 2,
  have: 3,
  integrity: 4,
  pexResV4: 5,
  pexReq: 6,
  signedIntegrity: 7,
  request: 8,
  cancel: 9,
  choke: 10,
  unchoke: 11,
  pexResV6: 12,
  pexResCert: 13,
  framePart: FRAME_PART_TYPE,
} as const;

export type MessageTypeName = keyof typeof MESSAGE_TYPE;

/**
 * Longest membership certificate in PEX_REScert accepted: an X.509v3 certificate with an RSA-4096
 * key, a signature and the SAN URI of §8.13 is under 2 KiB; 4 KiB leaves room and bounds the copy a
 * receiver keeps, well below the 65535 the length field allows.
 */
export const MAX_PEX_CERTIFICATE_BYTES = 4096;
/** Longest SIGNED_INTEGRITY signature a context may ask for: RSA-16384. */
export const MAX_SIGNATURE_BYTES = 2048;

export interface HandshakeMessage { readonly type: 'handshake'; readonly sourceChannel: number; readonly options: readonly ProtocolOption[] }
export interface DataMessage { readonly type: 'data'; readonly chunks: ChunkSpec; readonly timestamp: bigint; readonly data: Uint8Array }
export interface AckMessage { readonly type: 'ack'; readonly chunks: ChunkSpec; readonly delaySample: bigint }
export interface ChunksMessage { readonly type: 'have' | 'request' | 'cancel'; readonly chunks: ChunkSpec }
export interface IntegrityMessage { readonly type: 'integrity'; readonly chunks: ChunkSpec; readonly hash: Uint8Array }
export interface SignedIntegrityMessage { readonly type: 'signedIntegrity'; readonly chunks: ChunkSpec; readonly timestamp: bigint; readonly signature: Uint8Array }
export interface PexResV4Message { readonly type: 'pexResV4'; readonly address: Uint8Array; readonly port: number }
export interface PexResV6Message { readonly type: 'pexResV6'; readonly address: Uint8Array; readonly port: number }
export interface PexResCertMessage { readonly type: 'pexResCert'; readonly certificate: Uint8Array }
export interface EmptyMessage { readonly type: 'pexReq' | 'choke' | 'unchoke' }
/** Bytes `offset`.. of frame `seq` (`frameLength` bytes in all) of our own data-channel protocol. */
export interface FramePartMessage { readonly type: 'framePart'; readonly seq: number; readonly frameLength: number; readonly offset: number; readonly part: Uint8Array }

/** Longest frame FRAME_PART carries: a 1 MiB chunk's worth of leaf hashes and more, never a chunk. */
export const MAX_PART_FRAME_BYTES = 1024 * 1024 + 4096;

export type PpsppMessage =
  | HandshakeMessage
  | DataMessage
  | AckMessage
  | ChunksMessage
  | IntegrityMessage
  | SignedIntegrityMessage
  | PexResV4Message
  | PexResV6Message
  | PexResCertMessage
  | FramePartMessage
  | EmptyMessage;

function typeOfCode(code: number): MessageTypeName | undefined {
  return (Object.keys(MESSAGE_TYPE) as MessageTypeName[]).find((name) => MESSAGE_TYPE[name] === code);
}

/** A HANDSHAKE that closes its channel (source channel 0, §8.4). */
export function isClosingHandshake(m: PpsppMessage): m is HandshakeMessage {
  return m.type === 'handshake' && m.sourceChannel === 0;
}

function checkClosing(m: HandshakeMessage, field: string): void {
  if (isClosingHandshake(m) && m.options.some((o) => o.kind !== 'version')) fail(field, 'of a closing handshake may hold only the version (RFC 7574 §8.4)', 'out_of_range');
}

function signatureLength(context: PpsppContext, field: string): number {
  const n = signatureBytes(context);
  if (n === undefined) fail(field, `has no known length: live signature algorithm ${context.liveSignatureAlgorithm} needs the swarm key's signature length in the context`, 'unknown_length');
  if (!Number.isInteger(n) || n < 1 || n > MAX_SIGNATURE_BYTES) fail(field, `length ${n} is outside 1..${MAX_SIGNATURE_BYTES}`, 'out_of_range');
  return n;
}

/** Reads one message; the caller has checked that bytes remain. */
export function readMessage(reader: WireReader, context: PpsppContext): PpsppMessage {
  const code = reader.u8('message.type');
  const type = typeOfCode(code);
  if (type === undefined || (type === 'framePart' && !context.frameParts)) fail('message.type', `${code} is not a PPSPP message type (RFC 7574 Table 7)`, 'unknown_message_type');
  const chunks = () => readChunkSpec(reader, context.chunkAddressing, `${type}.chunks`);
  switch (type) {
    case 'handshake': {
      const m: HandshakeMessage = { type, sourceChannel: reader.u32('handshake.sourceChannel'), options: readProtocolOptions(reader, 'handshake.options') };
      checkClosing(m, 'handshake.options');
      return m;
    }
    case 'data': {
      const m = { type, chunks: chunks(), timestamp: reader.u64('data.timestamp'), data: reader.rest() };
      if (m.data.length === 0) fail('data.data', 'is empty: a DATA message carries a chunk', 'truncated');
      return m;
    }
    case 'ack':
      return { type, chunks: chunks(), delaySample: reader.u64('ack.delaySample') };
    case 'have':
    case 'request':
    case 'cancel':
      return { type, chunks: chunks() };
    case 'integrity':
      return { type, chunks: chunks(), hash: reader.bytes(hashBytes(context), 'integrity.hash') };
    case 'signedIntegrity': {
      const spec = chunks();
      const timestamp = reader.u64('signedIntegrity.timestamp');
      return { type, chunks: spec, timestamp, signature: reader.bytes(signatureLength(context, 'signedIntegrity.signature'), 'signedIntegrity.signature') };
    }
    case 'pexResV4':
      return { type, address: reader.bytes(4, 'pexResV4.address'), port: reader.u16('pexResV4.port') };
    case 'pexResV6':
      return { type, address: reader.bytes(16, 'pexResV6.address'), port: reader.u16('pexResV6.port') };
    case 'pexResCert': {
      const length = reader.u16('pexResCert.length');
      if (length === 0 || length > MAX_PEX_CERTIFICATE_BYTES) fail('pexResCert.length', `is ${length}, outside 1..${MAX_PEX_CERTIFICATE_BYTES}`, 'out_of_range');
      return { type, certificate: reader.bytes(length, 'pexResCert.certificate') };
    }
    case 'framePart': {
      const seq = reader.u32('framePart.seq');
      const frameLength = reader.u32('framePart.frameLength');
      const offset = reader.u32('framePart.offset');
      const part = reader.bytes(reader.u16('framePart.length'), 'framePart.part');
      checkFramePart(frameLength, offset, part.length);
      return { type, seq, frameLength, offset, part };
    }
    case 'pexReq':
    case 'choke':
    case 'unchoke':
      return { type };
  }
}

function checkFramePart(frameLength: number, offset: number, partLength: number): void {
  if (frameLength === 0 || frameLength > MAX_PART_FRAME_BYTES) fail('framePart.frameLength', `is ${frameLength}, outside 1..${MAX_PART_FRAME_BYTES}`, 'out_of_range');
  if (partLength === 0 || offset + partLength > frameLength) fail('framePart.part', `bytes ${offset}..${offset + partLength} are not inside the frame's ${frameLength}`, 'out_of_range');
}

/** Writes one message; refuses fields the decoder would refuse. */
export function writeMessage(writer: WireWriter, m: PpsppMessage, context: PpsppContext): void {
  const code = MESSAGE_TYPE[m?.type as MessageTypeName];
  if (code === undefined) fail('message.type', `${String(m?.type)} is not a PPSPP message`);
  writer.u8(code, 'message.type');
  const chunks = (spec: ChunkSpec) => writeChunkSpec(writer, spec, context.chunkAddressing, `${m.type}.chunks`);
  switch (m.type) {
    case 'handshake':
      checkClosing(m, 'handshake.options');
      writer.u32(m.sourceChannel, 'handshake.sourceChannel');
      writeProtocolOptions(writer, m.options, 'handshake.options');
      return;
    case 'data':
      chunks(m.chunks);
      writer.u64(m.timestamp, 'data.timestamp');
      if (!(m.data instanceof Uint8Array) || m.data.length === 0) fail('data.data', 'must be a non-empty byte string');
      writer.bytes(m.data, 'data.data');
      return;
    case 'ack':
      chunks(m.chunks);
      writer.u64(m.delaySample, 'ack.delaySample');
      return;
    case 'have':
    case 'request':
    case 'cancel':
      chunks(m.chunks);
      return;
    case 'integrity':
      chunks(m.chunks);
      writer.bytes(m.hash, 'integrity.hash', hashBytes(context));
      return;
    case 'signedIntegrity':
      chunks(m.chunks);
      writer.u64(m.timestamp, 'signedIntegrity.timestamp');
      writer.bytes(m.signature, 'signedIntegrity.signature', signatureLength(context, 'signedIntegrity.signature'));
      return;
    case 'pexResV4':
    case 'pexResV6':
      writer.bytes(m.address, `${m.type}.address`, m.type === 'pexResV4' ? 4 : 16);
      writer.u16(m.port, `${m.type}.port`);
      return;
    case 'pexResCert':
      if (!(m.certificate instanceof Uint8Array) || m.certificate.length === 0 || m.certificate.length > MAX_PEX_CERTIFICATE_BYTES) fail('pexResCert.certificate', `must be 1..${MAX_PEX_CERTIFICATE_BYTES} bytes`);
      writer.u16(m.certificate.length, 'pexResCert.length');
      writer.bytes(m.certificate, 'pexResCert.certificate');
      return;
    case 'framePart':
      checkFramePart(m.frameLength, m.offset, m.part.length);
      writer.u32(m.seq, 'framePart.seq');
      writer.u32(m.frameLength, 'framePart.frameLength');
      writer.u32(m.offset, 'framePart.offset');
      writer.u16(m.part.length, 'framePart.length');
      writer.bytes(m.part, 'framePart.part');
      return;
    case 'pexReq':
    case 'choke':
    case 'unchoke':
      return;
  }
}
