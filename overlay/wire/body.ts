/**
 * Method bodies are CBOR. Most methods hand the transport a plain value to encode; those with a
 * codec of their own (storage) hand over bytes already encoded, wrapped so they are not encoded
 * twice.
 */
import { encodeCbor } from './cbor.js';

export class EncodedBody {
  constructor(readonly bytes: Uint8Array) {}
}

export function encodeBody(body: unknown): Uint8Array {
  return body instanceof EncodedBody ? body.bytes : encodeCbor(body);
}
