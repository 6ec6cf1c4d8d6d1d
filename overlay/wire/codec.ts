/**
 * The CBOR wire encoding of RELOAD messages (RFC 6940 §6.3), as compact arrays in the RFC's field
 * order:
 *
 *   Message     = [relo_token u32, overlay u32, configuration_sequence u16, version u8, ttl u8,
 *                  transaction_id bstr(8, u64 BE), max_response_length u32,
 *                  via [Destination*], destinations [Destination*], options [Option*],
 *                  contents bstr, security bstr]
 *   Destination = [type u8 (1 node, 2 resource, 3 opaque), id bstr]
 *   Option      = [type u8, flags u8, value bstr]
 *   Contents    = [message_code u16, body bstr, extensions [[type u16, critical bool, contents bstr]*]]
 *   Security    = [certificates [bstr*], Signature]
 *   Signature   = [[hash u8, signature u8], SignerIdentity, value bstr]
 *   SignerIdentity = [type u8 (1 cert_hash), hash_alg u8, certificate_hash bstr]
 *   ErrorBody   = [error_code u16, error_info text]
 *
 * Every decoder checks every field (type, range, length, list size, exact array arity) and throws
 * only ReloadError: Message_Too_Large for an over-size message, Invalid_Message naming the field
 * for everything else. Encoders apply the same checks, so a node never sends what it would refuse.
 * Values are judged after CBOR decoding: an integer written as a float or a byte string under
 * tag 64 decodes to the same value and is accepted; encoding is always the shortest plain form.
 * Decoded node/resource/opaque ids are copies (they outlive the frame in routing state); the bulk
 * byte fields (contents, security, bodies, option values, certificates, signatures) are views into
 * the input, not copies.
 */
import { createHash } from 'node:crypto';
import { systemRandom, type Random } from '../random.js';
import { ErrorCode, ReloadError } from '../errors.js';
import { ID_BYTES, idFromBytes } from '../id.js';
import { decodeCbor, encodeCbor } from './cbor.js';
import { byteStringSize, CborWriter, headSize } from './cbor-writer.js';
import {
  PROTOCOL_VERSION,
  type Destination,
  type ErrorBody,
  type Extension,
  type ForwardingHeader,
  type ForwardingOption,
  type MessageContents,
  type SecurityBlock,
  type Signature,
  type SignerIdentity,
  type WireMessage,
} from './message.js';
import { bool, bytes as byteString, fail, list, MAX_U16, MAX_U32, MAX_U64, text, tuple, u16, u32, u8 } from './fields.js';
import type { SignatureAlgorithm } from '../../certs/signature-scheme.js';

/** "RELO" with the high bit set: the first field of every message (RFC 6940 §6.3.2). */
export const RELO_TOKEN = 0xd2454c4f;
/** Most entries in a via list or a destination list. */
export const MAX_LIST_ENTRIES = 255;
/** Most forwarding options in one header. */
export const MAX_OPTIONS = 32;
/** Most extensions in one MessageContents. */
export const MAX_EXTENSIONS = 32;
/** Most certificates in one security block. */
export const MAX_CERTIFICATES = 16;
/** Longest opaque id in a destination (RFC 6940 §6.3.2.2: `opaque<0..2^8-1>`, and never empty). */
export const MAX_OPAQUE_ID_BYTES = 255;
/** Bytes of a SHA-256 certificate hash in a cert_hash SignerIdentity. */
export const CERT_HASH_BYTES = 32;

const TRANSACTION_ID_BYTES = 8;
const MESSAGE_ARITY = 12;

/** RFC 6940 §6.3.2.2 DestinationType codes, both ways. */
const DESTINATION_CODES = new Map<Destination['type'], number>([
  ['node', 1],
  ['resource', 2],
  ['opaque', 3],
]);
const DESTINATION_TYPES = new Map([...DESTINATION_CODES].map(([type, code]) => [code, type]));
/** TLS HashAlgorithm sha256 (RFC 5246 §7.4.1.4.1): the hash of every signature here. */
const HASH_SHA256 = 4;
/** SignatureAlgorithm values (RFC 5246 §7.4.1.4.1; 224 is in the private-use range). */
const SIGNATURE_CODES: Record<SignatureAlgorithm, number> = { 'rsa-sha256': 1, 'ecdsa-sha256': 3, 'keyed-sha256': 224 };
const SIGNATURE_BY_CODE = new Map(Object.entries(SIGNATURE_CODES).map(([name, code]) => [code, name as SignatureAlgorithm]));
/** RFC 6940 §6.3.4.1 SignerIdentityType cert_hash. */
const SIGNER_CERT_HASH = 1;

/** A byte string with a 32-bit length in the RFC (`<0..2^32-1>`): bodies, contents, security block. */
const anyBytes = (value: unknown, field: string) => byteString(value, field, 0, MAX_U32);

function idLengthLimits(type: Destination['type']): [number, number] {
  return type === 'opaque' ? [1, MAX_OPAQUE_ID_BYTES] : [ID_BYTES, ID_BYTES];
}

// ---- forwarding header (RFC 6940 §6.3.2) ------------------------------------------------------

/**
 * Where resource entries may stand: never in a via list (a path is made of nodes), and only last
 * in a destination list (RFC 6940 §6.3.2.2, §6.1.1).
 */
function checkResourcePosition(entries: readonly Destination[], field: string, resourceAllowedLast: boolean): void {
  for (let i = 0; i < entries.length; i++) {
    if (entries[i]!.type === 'resource' && !(resourceAllowedLast && i === entries.length - 1)) {
      fail(`${field}[${i}]`, resourceAllowedLast ? 'is a resource id but not the last entry' : 'is a resource id, which a via list cannot hold');
    }
  }
}

/** Checks one entry for encoding; returns its type code. */
function destinationCode(d: Destination, field: string): number {
  const code = DESTINATION_CODES.get(d.type);
  if (code === undefined) fail(`${field}.type`, 'must be node, resource or opaque');
  const [min, max] = idLengthLimits(d.type);
  byteString(d.id, `${field}.id`, min, max);
  return code;
}

function destinationFrom(value: unknown, field: string): Destination {
  const [code, id] = tuple(value, field, 2);
  const type = DESTINATION_TYPES.get(u8(code, `${field}.type`));
  if (type === undefined) fail(`${field}.type`, `${String(code)} is not a destination type (1 node, 2 resource, 3 opaque)`);
  const [min, max] = idLengthLimits(type);
  const idBytes = byteString(id, `${field}.id`, min, max);
  // Copies: ids outlive the frame in routing and transaction state.
  return type === 'opaque' ? { type, id: Uint8Array.from(idBytes) } : { type, id: idFromBytes(idBytes) };
}

/** Checks a via or destination list for encoding; returns each entry's type code. */
function destinationCodes(value: readonly Destination[], field: string, resourceAllowedLast: boolean): number[] {
  const entries = list<Destination>(value, field, MAX_LIST_ENTRIES);
  checkResourcePosition(entries, field, resourceAllowedLast);
  return entries.map((d, i) => destinationCode(d, `${field}[${i}]`));
}

/** Encoded size of a checked via or destination list: [[type, id]*]. */
function destinationListSize(entries: readonly Destination[], codes: readonly number[]): number {
  let size = headSize(entries.length);
  for (let i = 0; i < entries.length; i++) size += 1 + headSize(codes[i]!) + byteStringSize(entries[i]!.id.length);
  return size;
}

function writeDestinationList(w: CborWriter, entries: readonly Destination[], codes: readonly number[]): void {
  w.array(entries.length);
  for (let i = 0; i < entries.length; i++) {
    w.array(2);
    w.unsigned(codes[i]!);
    w.byteString(entries[i]!.id);
  }
}

function destinationListFrom(value: unknown, field: string, resourceAllowedLast: boolean): Destination[] {
  const entries = list(value, field, MAX_LIST_ENTRIES).map((d, i) => destinationFrom(d, `${field}[${i}]`));
  checkResourcePosition(entries, field, resourceAllowedLast);
  return entries;
}

function checkOption(o: ForwardingOption, field: string): void {
  u8(o.type, `${field}.type`);
  u8(o.flags, `${field}.flags`);
  byteString(o.value, `${field}.value`, 0, MAX_U16);
}

function optionFrom(value: unknown, field: string): ForwardingOption {
  const [type, flags, optionValue] = tuple(value, field, 3);
  return { type: u8(type, `${field}.type`), flags: u8(flags, `${field}.flags`), value: byteString(optionValue, `${field}.value`, 0, MAX_U16) };
}

function protocolVersion(value: unknown): number {
  const v = u8(value, 'header.version');
  if (v !== PROTOCOL_VERSION) fail('header.version', `0x${v.toString(16)} is not 0x${PROTOCOL_VERSION.toString(16)} (RELOAD 1.0)`);
  return v;
}

function u64(value: bigint, field: string): bigint {
  if (typeof value !== 'bigint' || value < 0n || value > MAX_U64) fail(field, 'must be a u64 bigint');
  return value;
}

function transactionIdFrom(value: unknown): bigint {
  const b = byteString(value, 'header.transactionId', TRANSACTION_ID_BYTES, TRANSACTION_ID_BYTES);
  return new DataView(b.buffer, b.byteOffset, TRANSACTION_ID_BYTES).getBigUint64(0);
}

/**
 * Encodes a message for one hop: the (possibly rewritten) header around the contents and security
 * block exactly as the origin encoded them. Forwarders call this with a new via list and TTL; the
 * signed bytes are copied into the output once and never re-encoded. Throws
 * ReloadError(Invalid_Message) for a header field out of range (RFC 6940 §6.3.2).
 */
export function encodeMessage(msg: WireMessage): Uint8Array {
  const h = msg.header;
  const overlay = u32(h.overlay, 'header.overlay');
  const configSequence = u16(h.configSequence, 'header.configSequence');
  const version = protocolVersion(h.version);
  const ttl = u8(h.ttl, 'header.ttl');
  const transactionId = u64(h.transactionId, 'header.transactionId');
  const maxResponseLength = u32(h.maxResponseLength, 'header.maxResponseLength');
  const viaCodes = destinationCodes(h.via, 'header.via', false);
  const destinationTypeCodes = destinationCodes(h.destinations, 'header.destinations', true);
  const options = list<ForwardingOption>(h.options, 'header.options', MAX_OPTIONS);
  options.forEach((o, i) => checkOption(o, `header.options[${i}]`));
  const contents = anyBytes(msg.contentsBytes, 'contentsBytes');
  const security = anyBytes(msg.securityBytes, 'securityBytes');

  let size = headSize(MESSAGE_ARITY) + headSize(RELO_TOKEN) + headSize(overlay) + headSize(configSequence) + headSize(version) + headSize(ttl);
  size += byteStringSize(TRANSACTION_ID_BYTES) + headSize(maxResponseLength);
  size += destinationListSize(h.via, viaCodes) + destinationListSize(h.destinations, destinationTypeCodes);
  size += headSize(options.length);
  for (const o of options) size += 1 + headSize(o.type) + headSize(o.flags) + byteStringSize(o.value.length);
  size += byteStringSize(contents.length) + byteStringSize(security.length);

  const w = new CborWriter(size);
  w.array(MESSAGE_ARITY);
  w.unsigned(RELO_TOKEN);
  w.unsigned(overlay);
  w.unsigned(configSequence);
  w.unsigned(version);
  w.unsigned(ttl);
  w.byteStringU64(transactionId);
  w.unsigned(maxResponseLength);
  writeDestinationList(w, h.via, viaCodes);
  writeDestinationList(w, h.destinations, destinationTypeCodes);
  w.array(options.length);
  for (const o of options) {
    w.array(3);
    w.unsigned(o.type);
    w.unsigned(o.flags);
    w.byteString(o.value);
  }
  w.byteString(contents);
  w.byteString(security);
  return w.finish();
}

/**
 * Decodes one message (a whole frame). Throws ReloadError(Message_Too_Large) when
 * `bytes.length > maxSize` (checked before any decoding, RFC 6940 §6.3.2 / §6.6) and
 * ReloadError(Invalid_Message) naming the offending field for anything malformed. Contents and
 * security block stay encoded (views into `bytes`): a forwarder never needs them. Memory stays
 * proportional to the input: cbor-x refuses any length beyond the bytes left before allocating.
 * @param maxSize the overlay's max-message-size, in bytes
 */
export function decodeMessage(bytes: Uint8Array, maxSize: number): WireMessage {
  if (bytes.length > maxSize) {
    throw new ReloadError(ErrorCode.Message_Too_Large, `message of ${bytes.length} bytes exceeds the limit of ${maxSize}`);
  }
  const [token, overlay, configSequence, versionValue, ttl, transactionId, maxResponseLength, via, destinations, options, contents, security] =
    tuple(decodeCbor(bytes), 'message', MESSAGE_ARITY);
  if (token !== RELO_TOKEN) fail('relo_token', `must be 0x${RELO_TOKEN.toString(16)}: not a RELOAD message`);
  return {
    header: {
      overlay: u32(overlay, 'header.overlay'),
      configSequence: u16(configSequence, 'header.configSequence'),
      version: protocolVersion(versionValue),
      ttl: u8(ttl, 'header.ttl'),
      transactionId: transactionIdFrom(transactionId),
      maxResponseLength: u32(maxResponseLength, 'header.maxResponseLength'),
      via: destinationListFrom(via, 'header.via', false),
      destinations: destinationListFrom(destinations, 'header.destinations', true),
      options: list(options, 'header.options', MAX_OPTIONS).map((o, i) => optionFrom(o, `header.options[${i}]`)),
    },
    contentsBytes: anyBytes(contents, 'contentsBytes'),
    securityBytes: anyBytes(security, 'securityBytes'),
  };
}

// ---- message contents (RFC 6940 §6.3.3) -------------------------------------------------------

function extensionItem(e: Extension, field: string): unknown[] {
  return [u16(e.type, `${field}.type`), bool(e.critical, `${field}.critical`), anyBytes(e.contents, `${field}.contents`)];
}

function extensionFrom(value: unknown, field: string): Extension {
  const [type, critical, contents] = tuple(value, field, 3);
  return { type: u16(type, `${field}.type`), critical: bool(critical, `${field}.critical`), contents: anyBytes(contents, `${field}.contents`) };
}

/** Encodes MessageContents (RFC 6940 §6.3.3): the bytes that are signed and carried unchanged. */
export function encodeContents(contents: MessageContents): Uint8Array {
  return encodeCbor([
    u16(contents.code, 'contents.code'),
    anyBytes(contents.body, 'contents.body'),
    list<Extension>(contents.extensions, 'contents.extensions', MAX_EXTENSIONS).map((e, i) => extensionItem(e, `contents.extensions[${i}]`)),
  ]);
}

/** Decodes MessageContents; throws ReloadError(Invalid_Message) naming the bad field. */
export function decodeContents(bytes: Uint8Array): MessageContents {
  const [code, body, extensions] = tuple(decodeCbor(bytes), 'contents', 3);
  return {
    code: u16(code, 'contents.code'),
    body: anyBytes(body, 'contents.body'),
    extensions: list(extensions, 'contents.extensions', MAX_EXTENSIONS).map((e, i) => extensionFrom(e, `contents.extensions[${i}]`)),
  };
}

// ---- security block (RFC 6940 §6.3.4) ---------------------------------------------------------

function signerItem(signer: SignerIdentity): unknown[] {
  if (signer.type !== 'cert_hash') fail('security.signature.signer.type', 'must be cert_hash');
  if (signer.hashAlg !== 'sha256') fail('security.signature.signer.hashAlg', 'must be sha256');
  return [SIGNER_CERT_HASH, HASH_SHA256, byteString(signer.certHash, 'security.signature.signer.certHash', CERT_HASH_BYTES, CERT_HASH_BYTES)];
}

function signerFrom(value: unknown): SignerIdentity {
  const [type, hashAlg, certHash] = tuple(value, 'security.signature.signer', 3);
  if (u8(type, 'security.signature.signer.type') !== SIGNER_CERT_HASH) {
    fail('security.signature.signer.type', `${String(type)} is not supported (only cert_hash = ${SIGNER_CERT_HASH})`);
  }
  if (u8(hashAlg, 'security.signature.signer.hashAlg') !== HASH_SHA256) {
    fail('security.signature.signer.hashAlg', `${String(hashAlg)} is not supported (only sha256 = ${HASH_SHA256})`);
  }
  return { type: 'cert_hash', hashAlg: 'sha256', certHash: byteString(certHash, 'security.signature.signer.certHash', CERT_HASH_BYTES, CERT_HASH_BYTES) };
}

/**
 * The encoded SignerIdentity (RFC 6940 §6.3.4.1), the last part of the signature input. Signer and
 * verifier both build it from the decoded value, so the input does not depend on how a sender
 * happened to encode the security block.
 */
export function encodeSignerIdentity(signer: SignerIdentity): Uint8Array {
  return encodeCbor(signerItem(signer));
}

/**
 * The bytes a message signature covers (RFC 6940 §6.3.4): overlay (u32 BE) ‖ transaction_id
 * (u64 BE) ‖ MessageContents ‖ SignerIdentity, the last two as encoded. Throws
 * ReloadError(Invalid_Message) for an overlay or transaction id out of range.
 */
export function signatureInput(
  header: Pick<ForwardingHeader, 'overlay' | 'transactionId'>,
  contentsBytes: Uint8Array,
  encodedSigner: Uint8Array,
): Buffer {
  const fixed = 4 + TRANSACTION_ID_BYTES;
  const input = Buffer.allocUnsafe(fixed + contentsBytes.length + encodedSigner.length);
  input.writeUInt32BE(u32(header.overlay, 'header.overlay'), 0);
  input.writeBigUInt64BE(u64(header.transactionId, 'header.transactionId'), 4);
  input.set(contentsBytes, fixed);
  input.set(encodedSigner, fixed + contentsBytes.length);
  return input;
}

function signatureItem(signature: Signature): unknown[] {
  const code = SIGNATURE_CODES[signature.algorithm];
  if (code === undefined) fail('security.signature.algorithm', `${String(signature.algorithm)} is not one of ${Object.keys(SIGNATURE_CODES).join(', ')}`);
  return [[HASH_SHA256, code], signerItem(signature.signer), byteString(signature.value, 'security.signature.value', 0, MAX_U16)];
}

function signatureFrom(value: unknown): Signature {
  const [algorithmItem, signer, signatureValue] = tuple(value, 'security.signature', 3);
  const [hash, sig] = tuple(algorithmItem, 'security.signature.algorithm', 2);
  const algorithm = SIGNATURE_BY_CODE.get(u8(sig, 'security.signature.algorithm.signature'));
  if (u8(hash, 'security.signature.algorithm.hash') !== HASH_SHA256 || !algorithm) {
    fail('security.signature.algorithm', `[${String(hash)}, ${String(sig)}] is not supported (rsa-sha256 = [4, 1], ecdsa-sha256 = [4, 3])`);
  }
  return { algorithm, signer: signerFrom(signer), value: byteString(signatureValue, 'security.signature.value', 0, MAX_U16) };
}

/** Encodes a SecurityBlock (RFC 6940 §6.3.4): certificates (DER, 1..65535 bytes each) and the signature. */
export function encodeSecurity(block: SecurityBlock): Uint8Array {
  return encodeCbor([
    list(block.certificates, 'security.certificates', MAX_CERTIFICATES).map((c, i) => byteString(c, `security.certificates[${i}]`, 1, MAX_U16)),
    signatureItem(block.signature),
  ]);
}

/** Decodes a SecurityBlock; throws ReloadError(Invalid_Message) naming the bad field. Certificates are not parsed here. */
export function decodeSecurity(bytes: Uint8Array): SecurityBlock {
  const [certificates, signature] = tuple(decodeCbor(bytes), 'security', 2);
  return {
    certificates: list(certificates, 'security.certificates', MAX_CERTIFICATES).map((c, i) => byteString(c, `security.certificates[${i}]`, 1, MAX_U16)),
    signature: signatureFrom(signature),
  };
}

// ---- error response body (RFC 6940 §6.3.3.1) --------------------------------------------------

/** Encodes an ErrorResponse body: error_code u16 and error_info (UTF-8, at most 65535 bytes). */
export function encodeErrorBody(body: ErrorBody): Uint8Array {
  return encodeCbor([u16(body.code, 'error.code'), text(body.info, 'error.info', MAX_U16)]);
}

/** Decodes an ErrorResponse body; throws ReloadError(Invalid_Message) naming the bad field. */
export function decodeErrorBody(bytes: Uint8Array): ErrorBody {
  const [code, info] = tuple(decodeCbor(bytes), 'error', 2);
  return { code: u16(code, 'error.code'), info: text(info, 'error.info', MAX_U16) };
}

// ---- header values --------------------------------------------------------------------------

/** The last overlay hashed: every header of a node's messages carries the same one. */
let lastOverlay: { name: string; hash: number } | undefined;

/** The header's overlay field: the low 32 bits of SHA-1(overlay name), unsigned (RFC 6940 §6.3.2). */
export function overlayHash(name: string): number {
  if (lastOverlay?.name !== name) lastOverlay = { name, hash: createHash('sha1').update(name, 'utf8').digest().readUInt32BE(16) };
  return lastOverlay.hash;
}

/** A fresh random u64 transaction id (RFC 6940 §6.3.2), from `random` (node:crypto by default). */
export function newTransactionId(random: Random = systemRandom): bigint {
  return Buffer.from(random.bytes(TRANSACTION_ID_BYTES)).readBigUInt64BE(0);
}
