/**
 * The project's one CBOR configuration (cbor-x). Everything on the wire, and every method body,
 * goes through `encodeCbor` / `decodeCbor`, so all nodes produce the same bytes for the same value
 * and untrusted input fails in exactly one way: ReloadError(Invalid_Message).
 */
import { Decoder, Encoder, type Options } from 'cbor-x';
import { invalidMessage } from '../errors.js';

/**
 * Plain, deterministic CBOR (toolchain note G7): no record extension, shortest map and integer
 * heads, byte strings as major type 2 rather than tag 64, Maps without tag 259. The last option is
 * missing from cbor-x's typings, hence the widened type.
 */
function wireOptions(): Options & { useTag259ForMaps: boolean } {
  return { useRecords: false, variableMapSize: true, tagUint8Array: false, useTag259ForMaps: false };
}

const encoder = new Encoder(wireOptions());
// A separate Decoder, not `encoder.decode`: an Encoder always owns a `structures` array, and a
// Decoder that has one keeps record definitions from one input to the next. Untrusted input must
// not leave state behind for the following message; a plain Decoder resets it per call.
const decoder = new Decoder(wireOptions());

/**
 * Encodes a value as CBOR. Byte strings (Uint8Array, Buffer) become major type 2, integers take
 * their shortest head. The result is a view of cbor-x's output buffer that later calls never
 * overwrite.
 */
export function encodeCbor(value: unknown): Uint8Array {
  return encoder.encode(value);
}

/**
 * Decodes exactly one CBOR item that fills `bytes`. Byte strings come back as views into `bytes`
 * (no copy), of the same class as `bytes`. Any decoder failure — truncation, trailing bytes, bad
 * heads, nesting deep enough to exhaust the stack — becomes ReloadError(Invalid_Message).
 */
export function decodeCbor(bytes: Uint8Array): unknown {
  try {
    return decoder.decode(bytes);
  } catch (e) {
    throw invalidMessage(`malformed CBOR: ${e instanceof Error ? e.message : 'undecodable input'}`, 'malformed_cbor');
  }
}
