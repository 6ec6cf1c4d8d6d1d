/**
 * The PPSP data-channel messages (in the spirit of RFC 7574 §8), one message per frame: the
 * caller's length-prefixed framing carries whole frame bodies, so a message needs no length of its
 * own. Type codes are RFC 7574's (Table 7) where one exists.
 *
 * Every message but DATA is a compact CBOR array `[type, ...fields]`. DATA is binary instead so a
 * chunk is never re-encoded byte by byte: a fixed 5-byte header, then the chunk as the tail of the
 * frame. The first byte tells the two apart: DATA starts with 0x01, a CBOR array with 0x80..0x9f.
 *
 * INTEGRITY (RFC 7574 §8.5) has no message of its own and DATA carries no uncle hashes: a peer
 * requests chunks only once it holds every leaf hash checked against the root (HASHES, see
 * leaf-hashes.ts), so each chunk is checked against its trusted leaf hash, and the RFC's sender
 * omits hashes its receiver already has (§5.3). Chunk specs are chunk-range32 (§4.3), inclusive at
 * both ends.
 *
 * The decoder is strict: a malformed frame is ReloadError(Invalid_Message) naming the field; a chunk
 * index or range outside the swarm is Invalid_Message with reason `out_of_range`; a chunk larger
 * than the swarm's chunk size is Message_Too_Large. Decoded byte fields are views into the frame.
 */
import { decodeCbor, encodeCbor, ErrorCode, invalidMessage, ReloadError } from '../../../overlay/index.js';

/** Message type codes: RFC 7574 Table 7, plus ERROR, which PPSPP lacks (it answers nothing). */
export const DATA_MESSAGE_TYPE = {
  handshake: 0,
  data: 1,
  have: 3,
  request: 8,
  cancel: 9,
  choke: 10,
  unchoke: 11,
  /** Ours, from the unassigned range 14..254: asks for leaf hashes first..last (leaf-hashes.ts). */
  hashesRequest: 14,
  /** Ours: leaf hashes from `first` on, packed 32 B each. */
  hashes: 15,
  /** Ours: the swarm's root hash and geometry, answering a HANDSHAKE (RFC 7574 §8.4 metadata). */
  metadata: 16,
  /** Ours: the sender's whole availability, tagged as in availability.ts (seed §4.2.2). */
  availability: 17,
  /** Ours: a live swarm's descriptor, answering a HANDSHAKE (live-descriptor.ts), and a start-point hint. */
  liveMetadata: 18,
  /** Ours, binary like DATA: one signed chunk of a live swarm (live-chunk.ts). */
  liveData: 19,
  /** Ours, from the RFC's unassigned range 14..254: refusals are answered here, never dropped. */
  error: 254,
} as const;

/** Version spoken in HANDSHAKE; 1 as RFC 7574 §7.2 numbers its own protocol. */
export const PPSP_DATA_VERSION = 1;
/** SHA-256: swarm ids and Merkle hashes (RFC 7574 §5 with hash function 2). */
export const HASH_BYTES = 32;
/** Bytes of LIVE_DATA before its signature: type, index, timestamp, flags, signature length. */
export const LIVE_DATA_HEADER_BYTES = 1 + 4 + 8 + 1 + 2;
/** Longest signature LIVE_DATA carries (RSA-8192). */
export const MAX_LIVE_SIGNATURE_BYTES = 1024;
/** Longest live descriptor (a certificate and a few fields). */
const MAX_LIVE_DESCRIPTOR_BYTES = 10_000;
/** Bytes of the DATA header: type u8, chunk index u32 big-endian. */
export const DATA_HEADER_BYTES = 5;
/** Longest ERROR text, in UTF-8 bytes: a reason tag and a short explanation, not a document. */
export const MAX_ERROR_TEXT_BYTES = 512;
const MAX_U32 = 0xffffffff;
/** Uncle hashes in one HASHES at most: one per level of a tree of 2^32 chunks. */
const MAX_UNCLES = 32;

/** HANDSHAKE `[0, swarmId bstr(32), version u8]`: opens the channel for one swarm (RFC 7574 §8.4). */
export interface HandshakeMessage { type: 'handshake'; swarmId: Uint8Array; version: number }
/** REQUEST `[8, first u32, last u32]`: asks for chunks first..last (RFC 7574 §8.7). */
export interface RequestMessage { type: 'request'; first: number; last: number }
/** DATA `0x01 ‖ index u32be ‖ chunk`: one chunk (RFC 7574 §8.6), checked against its leaf hash. */
export interface DataMessage { type: 'data'; index: number; chunk: Uint8Array }
/** CANCEL `[9, first u32, last u32]`: withdraws a REQUEST for chunks first..last (RFC 7574 §8.11). */
export interface CancelMessage { type: 'cancel'; first: number; last: number }
/** HAVE `[3, first u32, last u32]`: the sender holds verified chunks first..last (RFC 7574 §8.3). */
export interface HaveMessage { type: 'have'; first: number; last: number }
/** CHOKE `[10]`: send no REQUEST until UNCHOKE; outstanding ones will not be answered (RFC 7574 §8.12, seed §4.3). */
export interface ChokeMessage { type: 'choke' }
/** UNCHOKE `[11]`: requests are welcome again (RFC 7574 §8.12, seed §4.3). */
export interface UnchokeMessage { type: 'unchoke' }
/** ERROR `[254, code u8, text tstr]`: a refusal with a RELOAD error code (RFC 6940 §6.3.3.1). */
export interface ErrorMessage { type: 'error'; code: number; text: string }

/** HASHES_REQUEST `[14, first u32, last u32]`: asks for the leaf hashes of chunks first..last. */
export interface HashesRequestMessage { type: 'hashesRequest'; first: number; last: number }
/**
 * HASHES `[15, first u32, hashes bstr(32·n), uncles bstr(32·m)]`: leaf hashes of chunks
 * first..first+n-1 (n ≥ 1, an aligned subtree), and the m uncle hashes from that subtree up to the
 * root, lowest first (merkle-proof.ts), so the range is checked on its own.
 */
export interface HashesMessage { type: 'hashes'; first: number; hashes: Uint8Array; uncles: Uint8Array }
/**
 * METADATA `[16, rootHash bstr(32), contentLength uint, chunkSize u32, (name tstr / null, mediaType tstr / null)?]`:
 * what the swarm ID commits to, then the seeder's file name and media type, hints for players that
 * the ID does not cover (media-info.ts checks them).
 */
export interface MetadataMessage { type: 'metadata'; rootHash: Uint8Array; contentLength: number; chunkSize: number; name?: string; mediaType?: string }
/**
 * LIVE_METADATA `[18, descriptor bstr, chunksPerKilosecond u32]`: the live swarm's descriptor (the
 * swarm ID is its hash) and the sender's measure of the channel's chunk rate, a hint where a new
 * viewer starts (it only moves the start point, so it needs no signature).
 */
export interface LiveMetadataMessage { type: 'liveMetadata'; descriptor: Uint8Array; chunksPerKilosecond: number }
/**
 * LIVE_DATA `0x13 ‖ index u32be ‖ timestamp u64be (ms) ‖ flags u8 ‖ signature length u16be ‖
 * signature ‖ chunk`: one chunk of a live swarm with the source's signature over it.
 */
export interface LiveDataMessage { type: 'liveData'; index: number; timestampMs: number; flags: number; signature: Uint8Array; chunk: Uint8Array }
/** AVAILABILITY `[17, [tag, payload]]`: every chunk the sender holds (encodeAvailability's form). */
export interface AvailabilityMessage { type: 'availability'; value: unknown }

/** Any data-channel message. */
export type PpspDataMessage =
  | HandshakeMessage
  | RequestMessage
  | DataMessage
  | CancelMessage
  | HaveMessage
  | ChokeMessage
  | UnchokeMessage
  | ErrorMessage
  | HashesRequestMessage
  | HashesMessage
  | MetadataMessage
  | AvailabilityMessage
  | LiveMetadataMessage
  | LiveDataMessage;

/**
 * What the decoder checks chunk fields against: the swarm's chunk count and chunk size (bytes,
 * default 16 KiB per issue 5).
 */
export interface SwarmBounds {
  chunkCount: number;
  maxChunkBytes: number;
}

/**
 * Bounds for a channel whose swarm is not known yet: every chunk-bearing message is refused, so
 * nothing but HANDSHAKE, CHOKE, UNCHOKE and ERROR gets through before the handshake names a swarm.
 */
export const BEFORE_HANDSHAKE: SwarmBounds = Object.freeze({ chunkCount: 0, maxChunkBytes: 0 });

function fail(field: string, problem: string, reason?: string): never {
  throw invalidMessage(`${field} ${problem}`, reason);
}

function u32(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_U32) fail(field, `must be an integer in 0..${MAX_U32}`);
  return value;
}

function u8(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xff) fail(field, 'must be an integer in 0..255');
  return value;
}

function hash(value: unknown, field: string): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length !== HASH_BYTES) fail(field, `must be a ${HASH_BYTES}-byte string`);
  return value;
}

/** Packed leaf hashes: a non-empty byte string whose length is a multiple of 32. */
function packedHashes(value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length === 0 || value.length % HASH_BYTES !== 0) fail('hashes.hashes', `must be a non-empty multiple of ${HASH_BYTES} bytes`);
  return value;
}

/** Uncle hashes: a multiple of 32 bytes, possibly none (a range that is the whole tree), at most one per tree level. */
function uncleHashes(value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length % HASH_BYTES !== 0 || value.length > MAX_UNCLES * HASH_BYTES) {
    fail('hashes.uncles', `must be a multiple of ${HASH_BYTES} bytes, at most ${MAX_UNCLES} hashes`);
  }
  return value;
}

/** A content length: a non-negative safe integer (cbor-x hands 8-byte heads back as bigints). */
function length(value: unknown): number {
  const n = typeof value === 'bigint' && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) fail('metadata.contentLength', 'must be a non-negative integer');
  return n;
}

/** A METADATA hint: a short text, or null (or absent on encode) for none. */
function hint(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  return text(value, field);
}

function text(value: unknown, field: string): string {
  if (typeof value !== 'string') fail(field, 'must be a text string');
  if (Buffer.byteLength(value, 'utf8') > MAX_ERROR_TEXT_BYTES) fail(field, `is longer than ${MAX_ERROR_TEXT_BYTES} bytes`);
  return value;
}

function chunkIndex(value: number, field: string, bounds: SwarmBounds): number {
  if (value >= bounds.chunkCount) fail(field, `${value} is beyond the swarm's ${bounds.chunkCount} chunks`, 'out_of_range');
  return value;
}

/** A chunk range: both ends u32, first <= last; with bounds, last inside the swarm. */
function range(first: unknown, last: unknown, field: string, bounds?: SwarmBounds): { first: number; last: number } {
  const f = u32(first, `${field}.first`);
  const l = u32(last, `${field}.last`);
  if (f > l) fail(field, `first ${f} is after last ${l}`);
  if (bounds) chunkIndex(l, `${field}.last`, bounds);
  return { first: f, last: l };
}

// ---- encoding --------------------------------------------------------------------------------

/**
 * Writes DATA's 5-byte header for chunk `index` at the start of `frame`, which the caller allocated
 * with the chunk's room after it: an uploader reads the chunk from disk straight into place.
 */
export function writeDataHeader(frame: Buffer, index: number): void {
  frame.writeUInt8(DATA_MESSAGE_TYPE.data, 0);
  frame.writeUInt32BE(u32(index, 'data.index'), 1);
}

/** One frame body for `m`. Encoding checks field shapes; swarm bounds are the receiver's to check. */
export function encodeDataMessage(m: PpspDataMessage): Buffer {
  switch (m.type) {
    case 'data': {
      if (!(m.chunk instanceof Uint8Array) || m.chunk.length === 0) fail('data.chunk', 'must be a non-empty byte string');
      const frame = Buffer.allocUnsafe(DATA_HEADER_BYTES + m.chunk.length);
      writeDataHeader(frame, m.index);
      frame.set(m.chunk, DATA_HEADER_BYTES);
      return frame;
    }
    case 'liveData':
      return encodeLiveData(m);
    case 'liveMetadata':
      return cbor([DATA_MESSAGE_TYPE.liveMetadata, liveDescriptor(m.descriptor), u32(m.chunksPerKilosecond, 'liveMetadata.chunksPerKilosecond')]);
    case 'handshake':
      return cbor([DATA_MESSAGE_TYPE.handshake, hash(m.swarmId, 'handshake.swarmId'), u8(m.version, 'handshake.version')]);
    case 'request':
    case 'cancel':
    case 'have': {
      const { first, last } = range(m.first, m.last, m.type);
      return cbor([DATA_MESSAGE_TYPE[m.type], first, last]);
    }
    case 'choke':
    case 'unchoke':
      return cbor([DATA_MESSAGE_TYPE[m.type]]);
    case 'error':
      return cbor([DATA_MESSAGE_TYPE.error, u8(m.code, 'error.code'), text(m.text, 'error.text')]);
    case 'hashesRequest': {
      const { first, last } = range(m.first, m.last, 'hashesRequest');
      return cbor([DATA_MESSAGE_TYPE.hashesRequest, first, last]);
    }
    case 'hashes':
      return cbor([DATA_MESSAGE_TYPE.hashes, u32(m.first, 'hashes.first'), packedHashes(m.hashes), uncleHashes(m.uncles)]);
    case 'metadata':
    {
      const head = [DATA_MESSAGE_TYPE.metadata, hash(m.rootHash, 'metadata.rootHash'), length(m.contentLength), u32(m.chunkSize, 'metadata.chunkSize')];
      const hints = m.name === undefined && m.mediaType === undefined ? [] : [hint(m.name, 'metadata.name'), hint(m.mediaType, 'metadata.mediaType')];
      return cbor([...head, ...hints]);
    }
    case 'availability':
      return cbor([DATA_MESSAGE_TYPE.availability, m.value]);
    default:
      return fail('type', `${String((m as { type: unknown }).type)} is not a data message`);
  }
}

function encodeLiveData(m: LiveDataMessage): Buffer {
  if (!(m.signature instanceof Uint8Array) || m.signature.length === 0 || m.signature.length > MAX_LIVE_SIGNATURE_BYTES) fail('liveData.signature', `must be 1..${MAX_LIVE_SIGNATURE_BYTES} bytes`);
  const head = LIVE_DATA_HEADER_BYTES + m.signature.length;
  const frame = Buffer.allocUnsafe(head + m.chunk.length);
  frame.writeUInt8(DATA_MESSAGE_TYPE.liveData, 0);
  frame.writeUInt32BE(u32(m.index, 'liveData.index'), 1);
  frame.writeBigUInt64BE(BigInt(m.timestampMs), 5);
  frame.writeUInt8(u8(m.flags, 'liveData.flags'), 13);
  frame.writeUInt16BE(m.signature.length, 14);
  frame.set(m.signature, LIVE_DATA_HEADER_BYTES);
  frame.set(m.chunk, head);
  return frame;
}

function liveDescriptor(value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length === 0 || value.length > MAX_LIVE_DESCRIPTOR_BYTES) fail('liveMetadata.descriptor', `must be 1..${MAX_LIVE_DESCRIPTOR_BYTES} bytes`);
  return value;
}

/** Longest text an ERROR we send carries (its reason, then what went wrong). */
const ERROR_TEXT_SENT = 400;

/**
 * The ERROR a session sends when it refuses the peer: the RELOAD code and `reason: message` of a
 * ReloadError, or Invalid_Message for anything else.
 */
export function errorMessageOf(error: unknown): ErrorMessage {
  const e = error instanceof ReloadError ? error : new ReloadError(ErrorCode.Invalid_Message, String((error as Error)?.message ?? error));
  const text = `${e.reason ?? 'error'}: ${e.message}`;
  return { type: 'error', code: e.code, text: text.length > ERROR_TEXT_SENT ? text.slice(0, ERROR_TEXT_SENT) : text };
}

function cbor(items: unknown[]): Buffer {
  const bytes = encodeCbor(items);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// ---- decoding --------------------------------------------------------------------------------

/** Parses one frame body; see the module comment for what is refused and how. */
export function decodeDataMessage(frame: Uint8Array, bounds: SwarmBounds): PpspDataMessage {
  if (frame.length === 0) fail('type', 'missing: empty frame');
  if (frame[0] === DATA_MESSAGE_TYPE.data) return decodeData(frame, bounds);
  if (frame[0] === DATA_MESSAGE_TYPE.liveData) return decodeLiveData(frame, bounds);
  const items = decodeCbor(frame);
  if (!Array.isArray(items) || items.length === 0) fail('type', 'must lead a non-empty array');
  const [type, a, b] = items;
  const arity = (n: number) => {
    if (items.length !== n) fail(`type ${String(type)}`, `must have ${n - 1} fields, got ${items.length - 1}`);
  };
  switch (type) {
    case DATA_MESSAGE_TYPE.handshake:
      arity(3);
      return { type: 'handshake', swarmId: hash(a, 'handshake.swarmId'), version: u8(b, 'handshake.version') };
    case DATA_MESSAGE_TYPE.request:
    case DATA_MESSAGE_TYPE.cancel:
    case DATA_MESSAGE_TYPE.have: {
      const name = type === DATA_MESSAGE_TYPE.request ? 'request' : type === DATA_MESSAGE_TYPE.cancel ? 'cancel' : 'have';
      arity(3);
      return { type: name, ...range(a, b, name, bounds) };
    }
    case DATA_MESSAGE_TYPE.choke:
      arity(1);
      return { type: 'choke' };
    case DATA_MESSAGE_TYPE.unchoke:
      arity(1);
      return { type: 'unchoke' };
    case DATA_MESSAGE_TYPE.error:
      arity(3);
      return { type: 'error', code: u8(a, 'error.code'), text: text(b, 'error.text') };
    case DATA_MESSAGE_TYPE.hashesRequest:
      arity(3);
      return { type: 'hashesRequest', ...range(a, b, 'hashesRequest', bounds) };
    case DATA_MESSAGE_TYPE.hashes: {
      arity(4);
      const first = u32(a, 'hashes.first');
      const hashes = packedHashes(b);
      chunkIndex(first + hashes.length / HASH_BYTES - 1, 'hashes.last', bounds);
      return { type: 'hashes', first, hashes, uncles: uncleHashes(items[3]) };
    }
    case DATA_MESSAGE_TYPE.metadata: {
      if (items.length !== 4) arity(6);
      const m: MetadataMessage = { type: 'metadata', rootHash: hash(a, 'metadata.rootHash'), contentLength: length(b), chunkSize: u32(items[3], 'metadata.chunkSize') };
      const name = hint(items[4], 'metadata.name');
      const mediaType = hint(items[5], 'metadata.mediaType');
      return { ...m, ...(name === null ? {} : { name }), ...(mediaType === null ? {} : { mediaType }) };
    }
    case DATA_MESSAGE_TYPE.liveMetadata:
      arity(3);
      return { type: 'liveMetadata', descriptor: liveDescriptor(a), chunksPerKilosecond: u32(b, 'liveMetadata.chunksPerKilosecond') };
    case DATA_MESSAGE_TYPE.availability:
      arity(2);
      // The payload is checked by decodeAvailability against the swarm's chunk count.
      return { type: 'availability', value: a };
    default:
      // DATA in CBOR form is refused too: chunks only travel in the binary layout.
      return fail('type', `${String(type)} is not a data message type`);
  }
}

function decodeData(frame: Uint8Array, bounds: SwarmBounds): DataMessage {
  if (frame.length < DATA_HEADER_BYTES) fail('data.header', `needs ${DATA_HEADER_BYTES} bytes, got ${frame.length}`);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const index = chunkIndex(view.getUint32(1), 'data.index', bounds);
  const size = frame.length - DATA_HEADER_BYTES;
  if (size === 0) fail('data.chunk', `missing: frame of ${frame.length} bytes ends before it`);
  if (size > bounds.maxChunkBytes) {
    throw new ReloadError(ErrorCode.Message_Too_Large, `data.chunk of ${size} bytes exceeds the chunk size ${bounds.maxChunkBytes}`);
  }
  return { type: 'data', index, chunk: frame.subarray(DATA_HEADER_BYTES) };
}

function decodeLiveData(frame: Uint8Array, bounds: SwarmBounds): LiveDataMessage {
  if (frame.length < LIVE_DATA_HEADER_BYTES) fail('liveData.header', `needs ${LIVE_DATA_HEADER_BYTES} bytes, got ${frame.length}`);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const index = chunkIndex(view.getUint32(1), 'liveData.index', bounds);
  const timestamp = view.getBigUint64(5);
  if (timestamp > BigInt(Number.MAX_SAFE_INTEGER)) fail('liveData.timestamp', `must be at most ${Number.MAX_SAFE_INTEGER}`);
  const signatureLength = view.getUint16(14);
  if (signatureLength === 0 || signatureLength > MAX_LIVE_SIGNATURE_BYTES) fail('liveData.signature', `must be 1..${MAX_LIVE_SIGNATURE_BYTES} bytes`);
  const head = LIVE_DATA_HEADER_BYTES + signatureLength;
  if (frame.length < head) fail('liveData.signature', `missing: frame of ${frame.length} bytes ends before it`);
  const size = frame.length - head;
  if (size > bounds.maxChunkBytes) {
    throw new ReloadError(ErrorCode.Message_Too_Large, `liveData.chunk of ${size} bytes exceeds the chunk size ${bounds.maxChunkBytes}`);
  }
  return { type: 'liveData', index, timestampMs: Number(timestamp), flags: view.getUint8(13), signature: frame.subarray(LIVE_DATA_HEADER_BYTES, head), chunk: frame.subarray(head) };
}
