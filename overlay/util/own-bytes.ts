/**
 * A copy of `bytes` in a buffer of its own. Decoders and encoders hand out views into larger
 * buffers (a received frame, cbor-x's output buffer, Node's 8 KiB pool); whatever is kept for long
 * (a cache entry, a stored value) should not keep the whole of one alive.
 */
export function ownBytes(bytes: Uint8Array): Buffer {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return Buffer.from(copy.buffer, 0, copy.length);
}
