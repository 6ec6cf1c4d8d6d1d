/**
 * Just enough of MPEG-TS (ISO/IEC 13818-1 §2.4.3) to start a live stream where a player can decode
 * it: at a video random access point, i.e. a 188-byte packet with the random_access_indicator set
 * (§2.4.3.5) that starts a PES packet of a video stream (stream_id 0xE0-0xEF). Audio packets carry
 * the indicator too (every AAC frame is a key frame), hence the stream_id check. A stream that starts
 * anywhere else opens with pictures that refer to ones the player never got.
 */

export const TS_PACKET_BYTES = 188;
const SYNC = 0x47;

/** The offset of the first video random access point in `bytes` (whole packets from its start), or -1. */
export function videoRandomAccessOffset(bytes: Uint8Array): number {
  for (let at = 0; at + TS_PACKET_BYTES <= bytes.length; at += TS_PACKET_BYTES) {
    if (bytes[at] !== SYNC) return -1; // not packet-aligned: nothing here can be trusted
    const payloadStart = (bytes[at + 1]! & 0x40) !== 0;
    const adaptation = (bytes[at + 3]! >> 4) & 0x3;
    if (!payloadStart || (adaptation !== 2 && adaptation !== 3)) continue;
    const fieldLength = bytes[at + 4]!;
    if (fieldLength === 0 || (bytes[at + 5]! & 0x40) === 0 || adaptation !== 3) continue;
    const pes = at + 5 + fieldLength;
    if (pes + 4 > at + TS_PACKET_BYTES) continue;
    if (bytes[pes] === 0 && bytes[pes + 1] === 0 && bytes[pes + 2] === 1 && (bytes[pes + 3]! & 0xf0) === 0xe0) return at;
  }
  return -1;
}
