/**
 * A PPSPP datagram over UDP (RFC 7574 §8.2-8.3): the 4-byte channel ID the receiver allocated,
 * then zero or more messages (ppspp-messages.ts) processed in order (§3). A datagram of the channel
 * ID alone is a keep-alive (§8.14); destination channel 0 opens a handshake (§8.4).
 *
 * Decoding runs against the channel's context (ppspp-context.ts). A HANDSHAKE's options change it
 * for the messages after it in the same datagram, and the decoder returns the context in effect at
 * the end for the caller to keep for the channel. A HANDSHAKE whose version is not ours is decoded,
 * not refused, and listed in `versionNotices` for the negotiation to answer (§7.2-7.3).
 *
 * DATA has no length: its chunk runs to the end of the datagram (§8.6), so it is always the last
 * message; the encoder refuses one anywhere else. (§8.6 also allows several DATA of a fixed chunk
 * size in one datagram; this codec does not, as without the chunk size in every decoder's context
 * their boundaries cannot be found.) Datagrams are bounded by the largest UDP payload over IPv4.
 */
import { fail } from '../../../overlay/index.js';
import { contextAfterOptions, DEFAULT_PPSPP_CONTEXT, type PpsppContext } from './ppspp-context.js';
import { readMessage, writeMessage, type PpsppMessage } from './ppspp-messages.js';
import { findOption, PPSPP_VERSION } from './ppspp-options.js';
import { WireReader, WireWriter } from './ppspp-wire-fields.js';

/** Largest UDP payload over IPv4 (65535 - 8 UDP - 20 IP header bytes). */
export const MAX_DATAGRAM_BYTES = 65_507;

/** A HANDSHAKE offering a version other than PPSPP_VERSION (§7.2-7.3). */
export interface VersionNotice {
  /** Index of the HANDSHAKE among the datagram's messages. */
  readonly messageIndex: number;
  readonly version: number;
  readonly minimumVersion: number | undefined;
  /** Whether our version lies in the offered minimum..version, so the channel can still agree on it. */
  readonly acceptsOurVersion: boolean;
}

export interface DecodedDatagram {
  readonly channel: number;
  readonly messages: readonly PpsppMessage[];
  /** The context after this datagram's HANDSHAKE options, to keep for the channel. */
  readonly context: PpsppContext;
  readonly versionNotices: readonly VersionNotice[];
}

/** True for a keep-alive: the channel ID and no message (§8.14). */
export function isKeepAlive(datagram: DecodedDatagram): boolean {
  return datagram.messages.length === 0;
}

/** Parses one datagram; every malformed one is ReloadError(Invalid_Message) naming the field. */
export function decodeDatagram(bytes: Uint8Array, context: PpsppContext = DEFAULT_PPSPP_CONTEXT): DecodedDatagram {
  if (!(bytes instanceof Uint8Array)) fail('datagram', 'must be a byte string');
  if (bytes.length > MAX_DATAGRAM_BYTES) fail('datagram', `of ${bytes.length} bytes exceeds ${MAX_DATAGRAM_BYTES}`, 'too_large');
  const reader = new WireReader(bytes);
  const channel = reader.u32('datagram.channel');
  const messages: PpsppMessage[] = [];
  const versionNotices: VersionNotice[] = [];
  let current = context;
  while (reader.remaining > 0) {
    const m = readMessage(reader, current);
    if (m.type === 'handshake') {
      current = contextAfterOptions(current, m.options);
      const notice = versionNotice(m.options, messages.length);
      if (notice) versionNotices.push(notice);
    }
    messages.push(m);
  }
  return { channel, messages, context: current, versionNotices };
}

function versionNotice(options: Parameters<typeof findOption>[0], messageIndex: number): VersionNotice | undefined {
  const version = findOption(options, 'version');
  if (version === undefined || version === PPSPP_VERSION) return undefined;
  const minimumVersion = findOption(options, 'minimumVersion');
  return { messageIndex, version, minimumVersion, acceptsOurVersion: (minimumVersion ?? version) <= PPSPP_VERSION && PPSPP_VERSION <= version };
}

/**
 * The datagram for `messages` on `channel`, written against `context` (updated by the HANDSHAKEs
 * among them as the decoder would). Throws Error if a DATA is not last or the datagram would exceed
 * MAX_DATAGRAM_BYTES, and ReloadError(Invalid_Message) for a field the decoder would refuse.
 */
export function encodeDatagram(channel: number, messages: readonly PpsppMessage[], context: PpsppContext = DEFAULT_PPSPP_CONTEXT): Buffer {
  const dataAt = messages.findIndex((m) => m?.type === 'data');
  if (dataAt !== -1 && dataAt !== messages.length - 1) {
    throw new Error(`ppspp datagram: DATA is message ${dataAt} of ${messages.length}; it runs to the end of the datagram, so it must be the last (RFC 7574 §8.6)`);
  }
  const writer = new WireWriter();
  writer.u32(channel, 'datagram.channel');
  let current = context;
  for (const m of messages) {
    writeMessage(writer, m, current);
    if (m.type === 'handshake') current = contextAfterOptions(current, m.options);
  }
  if (writer.length > MAX_DATAGRAM_BYTES) throw new Error(`ppspp datagram: ${writer.length} bytes exceed the ${MAX_DATAGRAM_BYTES} of one UDP datagram`);
  return writer.toBuffer();
}
