/**
 * PPSPP protocol options (RFC 7574 §7): the list a HANDSHAKE carries after its source channel
 * (§8.4), each an 8-bit code then its value, big-endian, the list closed by the End Option 255
 * (§7.1).
 *
 *   0 Version                  1 byte (§7.2)
 *   1 Minimum Version          1 byte (§7.3)
 *   2 Swarm Identifier         16-bit length, then that many bytes (§7.4)
 *   3 Content Integrity        1 byte, Table 4: 0 none, 1 Merkle Hash Tree, 2 Sign All, 3 Unified Merkle Tree (§7.5)
 *   4 Merkle Hash Tree Function 1 byte, Table 5: 0 SHA-1 .. 4 SHA-512 (§7.6)
 *   5 Live Signature Algorithm 1 byte, a DNSSEC algorithm number (§7.7)
 *   6 Chunk Addressing Method  1 byte, Table 6 (§7.8)
 *   7 Live Discard Window      32 or 64 bits, as wide as the chunk addressing method's integers (§7.9)
 *   8 Supported Messages       8-bit length, then a bitmap of that many bytes (§7.10)
 *   9 Chunk Size               32 bits; 0xFFFFFFFF for variable-size chunks (§7.11)
 *
 * Options are kept as an ordered list, not a record, so a decoded HANDSHAKE encodes again to the same
 * bytes whatever order the peer chose. The decoder refuses what would make the list ambiguous or
 * unreadable: an unknown code (its length is unknown, so nothing after it can be read), a code seen
 * twice, an unassigned value of an option the codec itself depends on (3, 4, 6), a Live Discard Window
 * with no Chunk Addressing Method before it (§7.9 says it MUST come before, and its width depends on
 * it), an empty swarm ID, a supported-messages bitmap longer than 256 bits or not truncated after its
 * last non-zero byte (§7.10), and a chunk size of 0. The version is not checked here: a peer offering
 * another version is for negotiation to answer (§7.2-7.3), not a malformed datagram.
 */
import { fail } from '../../../overlay/index.js';
import { chunkAddressingOfCode, CHUNK_ADDRESSING_CODE, is32BitAddressing, type ChunkAddressing } from './ppspp-chunk-spec.js';
import type { WireReader, WireWriter } from './ppspp-wire-fields.js';

/** The protocol version RFC 7574 describes (Table 3). */
export const PPSPP_VERSION = 1;

/** Option codes (Table 2, with Chunk Size 9 of §7.11). */
export const OPTION_CODE = {
  version: 0,
  minimumVersion: 1,
  swarmId: 2,
  contentIntegrityProtectionMethod: 3,
  merkleHashTreeFunction: 4,
  liveSignatureAlgorithm: 5,
  chunkAddressingMethod: 6,
  liveDiscardWindow: 7,
  supportedMessages: 8,
  chunkSize: 9,
  end: 255,
} as const;

/** Content integrity protection methods (Table 4). */
export const CONTENT_INTEGRITY_CODE = { none: 0, merkleHashTree: 1, signAll: 2, unifiedMerkleTree: 3 } as const;
export type ContentIntegrityMethod = keyof typeof CONTENT_INTEGRITY_CODE;

/** Merkle hash tree functions (Table 5) and the bytes of one hash each produces (FIPS 180-4). */
export const MERKLE_HASH_FUNCTION = {
  sha1: { code: 0, bytes: 20 },
  sha224: { code: 1, bytes: 28 },
  sha256: { code: 2, bytes: 32 },
  sha384: { code: 3, bytes: 48 },
  sha512: { code: 4, bytes: 64 },
} as const;
export type MerkleHashFunction = keyof typeof MERKLE_HASH_FUNCTION;

/** Longest swarm ID accepted: the 16-bit length field allows 65535, but a datagram is smaller. */
export const MAX_SWARM_ID_BYTES = 0xffff;
/** Longest supported-messages bitmap: 256 bits, one per message type (§7.10). */
export const MAX_SUPPORTED_MESSAGES_BYTES = 32;
/** The Chunk Size value for swarms whose chunks vary in size (§7.11). */
export const VARIABLE_CHUNK_SIZE = 0xffffffff;

export type ProtocolOption =
  | { readonly kind: 'version'; readonly value: number }
  | { readonly kind: 'minimumVersion'; readonly value: number }
  | { readonly kind: 'swarmId'; readonly value: Uint8Array }
  | { readonly kind: 'contentIntegrityProtectionMethod'; readonly value: ContentIntegrityMethod }
  | { readonly kind: 'merkleHashTreeFunction'; readonly value: MerkleHashFunction }
  | { readonly kind: 'liveSignatureAlgorithm'; readonly value: number }
  | { readonly kind: 'chunkAddressingMethod'; readonly value: ChunkAddressing }
  /** Chunks (bins, chunk ranges) or bytes (byte ranges); 2^32-1 or 2^64-1 means "never discards". */
  | { readonly kind: 'liveDiscardWindow'; readonly value: bigint }
  /** The message types the sender supports, ascending. */
  | { readonly kind: 'supportedMessages'; readonly value: readonly number[] }
  | { readonly kind: 'chunkSize'; readonly value: number };

export type ProtocolOptionKind = ProtocolOption['kind'];
export type OptionValue<K extends ProtocolOptionKind> = Extract<ProtocolOption, { kind: K }>['value'];

/** The value of option `kind` in a list, if present. */
export function findOption<K extends ProtocolOptionKind>(options: readonly ProtocolOption[], kind: K): OptionValue<K> | undefined {
  return options.find((o) => o.kind === kind)?.value as OptionValue<K> | undefined;
}

function nameOfCode<T extends Record<string, number>>(table: T, code: number): keyof T | undefined {
  return (Object.keys(table) as (keyof T)[]).find((name) => table[name] === code);
}

function kindOfCode(code: number): ProtocolOptionKind | undefined {
  const kind = nameOfCode(OPTION_CODE, code);
  return kind === 'end' ? undefined : kind;
}

/** Reads options up to and including the End Option. */
export function readProtocolOptions(reader: WireReader, field: string): ProtocolOption[] {
  const options: ProtocolOption[] = [];
  const seen = new Set<ProtocolOptionKind>();
  for (;;) {
    const code = reader.u8(`${field}.code`);
    if (code === OPTION_CODE.end) return options;
    const kind = kindOfCode(code);
    if (kind === undefined) fail(`${field}.code`, `${code} is not a protocol option (RFC 7574 Table 2)`, 'unknown_option');
    if (seen.has(kind)) fail(`${field}.${kind}`, 'appears twice', 'duplicate_option');
    seen.add(kind);
    options.push(readOptionValue(reader, kind, `${field}.${kind}`, findOption(options, 'chunkAddressingMethod')));
  }
}

function readOptionValue(reader: WireReader, kind: ProtocolOptionKind, field: string, addressing: ChunkAddressing | undefined): ProtocolOption {
  switch (kind) {
    case 'version':
    case 'minimumVersion':
    case 'liveSignatureAlgorithm':
      return { kind, value: reader.u8(field) };
    case 'swarmId': {
      const length = reader.u16(`${field}.length`);
      if (length === 0) fail(`${field}.length`, 'is 0: a swarm ID has at least one byte', 'out_of_range');
      return { kind, value: reader.bytes(length, field) };
    }
    case 'contentIntegrityProtectionMethod': {
      const code = reader.u8(field);
      const value = nameOfCode(CONTENT_INTEGRITY_CODE, code);
      if (value === undefined) fail(field, `${code} is unassigned (RFC 7574 Table 4)`, 'out_of_range');
      return { kind, value };
    }
    case 'merkleHashTreeFunction': {
      const code = reader.u8(field);
      const value = (Object.keys(MERKLE_HASH_FUNCTION) as MerkleHashFunction[]).find((name) => MERKLE_HASH_FUNCTION[name].code === code);
      if (value === undefined) fail(field, `${code} is unassigned (RFC 7574 Table 5)`, 'out_of_range');
      return { kind, value };
    }
    case 'chunkAddressingMethod': {
      const code = reader.u8(field);
      const value = chunkAddressingOfCode(code);
      if (value === undefined) fail(field, `${code} is unassigned (RFC 7574 Table 6)`, 'out_of_range');
      return { kind, value };
    }
    case 'liveDiscardWindow': {
      if (addressing === undefined) fail(field, 'comes before any chunkAddressingMethod, which sets its width (RFC 7574 §7.9)', 'out_of_order');
      return { kind, value: is32BitAddressing(addressing) ? BigInt(reader.u32(field)) : reader.u64(field) };
    }
    case 'supportedMessages': {
      const length = reader.u8(`${field}.length`);
      if (length > MAX_SUPPORTED_MESSAGES_BYTES) fail(`${field}.length`, `is ${length}, more than the ${MAX_SUPPORTED_MESSAGES_BYTES} bytes of 256 message types`, 'out_of_range');
      const bitmap = reader.bytes(length, field);
      if (length > 0 && bitmap[length - 1] === 0) fail(field, 'ends with a zero byte: the bitmap is truncated after its last non-zero byte (RFC 7574 §7.10)', 'out_of_range');
      return { kind, value: typesOfBitmap(bitmap) };
    }
    case 'chunkSize': {
      const value = reader.u32(field);
      if (value === 0) fail(field, 'is 0', 'out_of_range');
      return { kind, value };
    }
  }
}

/** Bit X, counted from the most significant bit of the first byte, is message type X (§7.10). */
function typesOfBitmap(bitmap: Uint8Array): number[] {
  const types: number[] = [];
  bitmap.forEach((byte, i) => {
    for (let bit = 0; bit < 8; bit++) if (byte & (0x80 >> bit)) types.push(i * 8 + bit);
  });
  return types;
}

function bitmapOfTypes(types: readonly number[], field: string): Uint8Array {
  if (!Array.isArray(types as unknown)) fail(field, 'must be an array of message types');
  const bitmap = new Uint8Array(MAX_SUPPORTED_MESSAGES_BYTES);
  let length = 0;
  let previous = -1;
  for (const type of types) {
    if (!Number.isInteger(type) || type <= previous || type > 255) fail(field, 'must be ascending distinct message types in 0..255');
    previous = type;
    bitmap[type >> 3]! |= 0x80 >> (type & 7);
    length = (type >> 3) + 1;
  }
  return bitmap.subarray(0, length);
}

/** Writes `options` in their order, then the End Option; refuses the lists the decoder refuses. */
export function writeProtocolOptions(writer: WireWriter, options: readonly ProtocolOption[], field: string): void {
  if (!Array.isArray(options as unknown)) fail(field, 'must be an array of protocol options');
  const seen = new Set<ProtocolOptionKind>();
  let addressing: ChunkAddressing | undefined;
  for (const option of options) {
    const code: number | undefined = OPTION_CODE[option?.kind];
    if (code === undefined || kindOfCode(code) === undefined) fail(`${field}.kind`, `${String(option?.kind)} is not a protocol option`);
    const at = `${field}.${option.kind}`;
    if (seen.has(option.kind)) fail(at, 'appears twice');
    seen.add(option.kind);
    writer.u8(code, `${at}.code`);
    switch (option.kind) {
      case 'version':
      case 'minimumVersion':
      case 'liveSignatureAlgorithm':
        writer.u8(option.value, at);
        break;
      case 'swarmId':
        if (!(option.value instanceof Uint8Array) || option.value.length === 0 || option.value.length > MAX_SWARM_ID_BYTES) fail(at, `must be 1..${MAX_SWARM_ID_BYTES} bytes`);
        writer.u16(option.value.length, `${at}.length`);
        writer.bytes(option.value, at);
        break;
      case 'contentIntegrityProtectionMethod':
        writer.u8(CONTENT_INTEGRITY_CODE[option.value], at);
        break;
      case 'merkleHashTreeFunction':
        writer.u8(MERKLE_HASH_FUNCTION[option.value]?.code, at);
        break;
      case 'chunkAddressingMethod':
        writer.u8(CHUNK_ADDRESSING_CODE[option.value], at);
        addressing = option.value;
        break;
      case 'liveDiscardWindow':
        if (addressing === undefined) fail(at, 'must come after the chunkAddressingMethod option (RFC 7574 §7.9)');
        if (is32BitAddressing(addressing)) {
          if (typeof option.value !== 'bigint' || option.value > 0xffffffffn) fail(at, `must fit 32 bits under ${addressing}`);
          writer.u32(Number(option.value), at);
        } else writer.u64(option.value, at);
        break;
      case 'supportedMessages': {
        const bitmap = bitmapOfTypes(option.value, at);
        writer.u8(bitmap.length, `${at}.length`);
        writer.bytes(bitmap, at);
        break;
      }
      case 'chunkSize':
        if (option.value === 0) fail(at, 'must not be 0');
        writer.u32(option.value, at);
        break;
    }
  }
  writer.u8(OPTION_CODE.end, `${field}.end`);
}
