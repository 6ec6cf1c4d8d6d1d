/**
 * Field readers shared by the PPSP signalling codecs. Each one refuses untrusted input with
 * ReloadError(Invalid_Message) naming the field, so a caller learns which part of a body was bad.
 */
import { invalidMessage, type ReloadError } from '../../overlay/errors.js';

/** Throws Invalid_Message `field: what` with a machine-readable reason. */
export function fail(field: string, what: string, reason = 'bad_ppsp_field'): never {
  throw invalidMessage(`${field}: ${what}`, reason) as ReloadError;
}

/** A CBOR array of exactly `n` items. */
export function tuple(value: unknown, n: number, field: string): unknown[] {
  if (!Array.isArray(value)) fail(field, 'must be an array');
  if (value.length !== n) fail(field, `must have ${n} items, got ${value.length}`);
  return value;
}

/** A CBOR array of at most `max` items. */
export function list(value: unknown, max: number, field: string): unknown[] {
  if (!Array.isArray(value)) fail(field, 'must be an array');
  if (value.length > max) fail(field, `has ${value.length} items, at most ${max} allowed`, 'too_many_items');
  return value;
}

/** An integer in min..max. cbor-x decodes 8-byte heads as bigints; those are accepted in range. */
export function uint(value: unknown, min: number, max: number, field: string): number {
  const n = typeof value === 'bigint' && value >= BigInt(min) && value <= BigInt(max) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min || n > max) fail(field, `must be an integer in ${min}..${max}`);
  return n;
}

/** A byte string of exactly `length` bytes (copied, so it outlives the message buffer). */
export function bytes(value: unknown, length: number, field: string): Uint8Array {
  if (!(value instanceof Uint8Array)) fail(field, 'must be a byte string');
  if (value.length !== length) fail(field, `must be ${length} bytes, got ${value.length}`);
  return Uint8Array.from(value);
}

/** A text string of 1..maxLength characters matching `pattern`. */
export function text(value: unknown, maxLength: number, pattern: RegExp, field: string): string {
  if (typeof value !== 'string') fail(field, 'must be a text string');
  if (value.length === 0 || value.length > maxLength) fail(field, `must be 1..${maxLength} characters`);
  if (!pattern.test(value)) fail(field, `${JSON.stringify(value.slice(0, 40))} is malformed`);
  return value;
}
