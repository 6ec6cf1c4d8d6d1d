/**
 * The JSON form of wire model values used by the golden vectors and by deep comparisons in tests:
 * byte strings as lowercase hex, the u64 transaction id as 16 hex digits. Revival is by field
 * name, which the message model keeps unambiguous.
 */

/** Fields of the message model that hold bytes; `certificates` holds a list of them. */
const BYTE_FIELDS = new Set(['id', 'value', 'body', 'contents', 'contentsBytes', 'securityBytes', 'certHash']);

const hex = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
const unhex = (text: string) => Uint8Array.from(Buffer.from(text, 'hex'));

/** A model value (message, header, contents, security block, error body) as plain JSON. */
export function toWireJson(value: unknown): unknown {
  // The replacer reads the holder's raw value: JSON.stringify applies Buffer#toJSON before it.
  return JSON.parse(
    JSON.stringify(value, function (this: Record<string, unknown>, key: string, json: unknown) {
      const raw = this[key];
      if (raw instanceof Uint8Array) return hex(raw);
      if (typeof raw === 'bigint') return raw.toString(16).padStart(16, '0');
      return json;
    }),
  );
}

/** The inverse of toWireJson. */
export function fromWireJson<T>(json: unknown): T {
  return JSON.parse(JSON.stringify(json), (key: string, value: unknown) => {
    if (key === 'transactionId' && typeof value === 'string') return BigInt('0x' + value);
    if (BYTE_FIELDS.has(key) && typeof value === 'string') return unhex(value);
    if (key === 'certificates' && Array.isArray(value)) return value.map((c) => unhex(String(c)));
    return value;
  }) as T;
}
