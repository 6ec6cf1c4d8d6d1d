/**
 * Field checks for decoded CBOR, shared by the strict encoders and parsers of the wire format, of
 * the storage bodies and of the usages' bodies (PPSP signalling): every one throws
 * ReloadError(Invalid_Message) naming the field, and nothing else.
 */
import { invalidMessage } from '../errors.js';
import { ID_BYTES, idFromBytes, type Id } from '../id.js';

/** Largest u8. */
export const MAX_U8 = 0xff;
/** Largest u16: the RFC's `<0..2^16-1>` bound of keys, certificates and signatures. */
export const MAX_U16 = 0xffff;
/** Largest u32: the RFC's `<0..2^32-1>` bound of values. */
export const MAX_U32 = 0xffffffff;
/** Largest u64. */
export const MAX_U64 = (1n << 64n) - 1n;

/**
 * Throws ReloadError(Invalid_Message) "<field> <problem>", with `reason` as its tag for a failure
 * that callers tell apart from other malformed input (default `invalid_message`).
 */
export function fail(field: string, problem: string, reason?: string): never {
  throw invalidMessage(`${field} ${problem}`, reason);
}

/** A number that is an integer in min..max. */
function integer(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) fail(field, `must be an integer in ${min}..${max}`);
  return value;
}

/** An integer in 0..255. */
export const u8 = (value: unknown, field: string) => integer(value, field, 0, MAX_U8);
/** An integer in 0..65535. */
export const u16 = (value: unknown, field: string) => integer(value, field, 0, MAX_U16);
/** An integer in 0..2^32-1. */
export const u32 = (value: unknown, field: string) => integer(value, field, 0, MAX_U32);

/**
 * An integer in min..max (integer bounds, max at most 2^53-1), for fields whose protocol bounds
 * are not a whole u8/u16/u32 (counts, indices, capacities). Unlike u8..u32 it also takes a bigint,
 * as u64 does: cbor-x decodes any 8-byte head as one, however small the value a peer wrote in it.
 */
export function uint(value: unknown, field: string, min: number, max: number): number {
  // Only a bigint in range becomes a number; any other bigint is refused as not a number.
  return integer(typeof value === 'bigint' && value >= BigInt(min) && value <= BigInt(max) ? Number(value) : value, field, min, max);
}

/**
 * A u64 read as bigint. cbor-x hands back a number for short heads and a bigint for 8-byte ones,
 * whatever the value: both are accepted and normalised.
 */
export function u64(value: unknown, field: string): bigint {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  if (typeof value === 'bigint' && value >= 0n && value <= MAX_U64) return value;
  return fail(field, 'must be an integer in 0..2^64-1');
}

/** A u64 on the wire that this implementation holds as a number (a time in ms): at most 2^53-1. */
export function u64Number(value: unknown, field: string): number {
  const v = u64(value, field);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(field, `must be at most ${Number.MAX_SAFE_INTEGER}`);
  return Number(v);
}

/**
 * The CBOR item for a u64, in its shortest integer form: cbor-x writes numbers above 2^32 as
 * float64 and bigints always in 8 bytes, so values up to 2^32-1 go out as numbers, larger as bigints.
 */
export function u64Item(value: number | bigint, field: string): number | bigint {
  const v = u64(value, field);
  return v <= BigInt(MAX_U32) ? Number(v) : v;
}

/** A CBOR true or false. */
export function bool(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') fail(field, 'must be a boolean');
  return value;
}

/** A byte string of min..max bytes (not copied). */
export function bytes(value: unknown, field: string, min: number, max: number): Uint8Array {
  if (!(value instanceof Uint8Array)) fail(field, 'must be a byte string');
  if (value.length < min || value.length > max) fail(field, `must be ${min}..${max} bytes, got ${value.length}`);
  return value;
}

/** A text string of at most `maxBytes` UTF-8 bytes. */
export function text(value: unknown, field: string, maxBytes: number): string {
  if (typeof value !== 'string') fail(field, 'must be a text string');
  // UTF-8 is at most 3 bytes per UTF-16 unit: skip the byte count when that cannot exceed the limit.
  if (value.length * 3 > maxBytes && Buffer.byteLength(value, 'utf8') > maxBytes) fail(field, `must be at most ${maxBytes} UTF-8 bytes`);
  return value;
}

/** A 16-byte Node-ID or Resource-ID, copied: ids outlive the frame they came in. */
export function idField(value: unknown, field: string): Id {
  return idFromBytes(bytes(value, field, ID_BYTES, ID_BYTES));
}

/** An array of exactly `arity` items (a fixed structure). */
export function tuple(value: unknown, field: string, arity: number): unknown[] {
  if (!Array.isArray(value) || value.length !== arity) fail(field, `must be an array of ${arity} items`);
  return value;
}

/**
 * An array of 0..max items (a variable list); `T` is what the caller knows the items to be. Too
 * many items is tagged `too_many_items`: a bound the sender overstepped (e.g. more peers than
 * were asked for), not a garbled body.
 */
export function list<T = unknown>(value: unknown, field: string, max: number): T[] {
  if (!Array.isArray(value)) fail(field, 'must be an array');
  if (value.length > max) fail(field, `has ${value.length} entries, more than ${max}`, 'too_many_items');
  return value as T[];
}
