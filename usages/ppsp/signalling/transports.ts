/**
 * Transport descriptors and their negotiation (seed draft §4.5, §5 steps 5-6): each side reports
 * the transports it supports with their addresses; the requesting peer chooses. Two exist:
 *
 * - `tls`: a direct data channel to `address` (host:port) opened with AppAttach, mutual TLS with
 *   the overlay certificates;
 * - `overlay`: chunks relayed through overlay routing, for peers with no direct path (NAT).
 *
 * On the wire a descriptor is `[name, ...parameters]`: `["tls", "host:port"]` or `["overlay"]`.
 * A descriptor with a well-formed name this code does not know is skipped, so a later transport
 * can be announced without breaking older peers. Pure: no I/O.
 */
import { isIP } from 'node:net';
import { ErrorCode, fail, list, MAX_U16, ReloadError, text, uint } from '../../../overlay/index.js';

export interface TlsTransport {
  type: 'tls';
  /** `host:port` (an IPv6 host in brackets) the peer's data channel listens on. */
  address: string;
}

export interface OverlayTransport {
  type: 'overlay';
}

export type TransportDescriptor = TlsTransport | OverlayTransport;

/** Descriptors in one list at most (known or not). */
export const MAX_TRANSPORTS = 8;
/** Bytes of a transport name at most. */
const MAX_NAME_BYTES = 16;
/** Bytes of a host:port at most (a DNS name is at most 253). */
const MAX_ADDRESS_BYTES = 261;
const NAME = /^[a-z][a-z0-9-]*$/;
/** `host:port`, split at the last colon (an IPv6 host has colons of its own). */
const HOST_PORT = /^(.*):(\d{1,5})$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** Checks `host:port` (IPv4, [IPv6] or a DNS name; port 1..65535); Invalid_Message otherwise. */
export function parseTransportAddress(value: unknown, field = 'address'): { host: string; port: number } {
  const hostPort = HOST_PORT.exec(text(value, field, MAX_ADDRESS_BYTES));
  if (!hostPort) return fail(field, 'must be host:port');
  const hostPart = hostPort[1]!;
  const port = uint(Number(hostPort[2]), `${field} port`, 1, MAX_U16);
  const v6 = /^\[(.+)\]$/.exec(hostPart);
  if (v6) {
    if (isIP(v6[1]!) !== 6) fail(field, `${JSON.stringify(hostPart)} is not an IPv6 address`);
    return { host: v6[1]!, port };
  }
  if (isIP(hostPart) !== 4 && (!HOSTNAME.test(hostPart) || /^[\d.]+$/.test(hostPart))) fail(field, `${JSON.stringify(hostPart)} is not a host`);
  return { host: hostPart, port };
}

/** Checks local descriptors (as the decoder would) and returns their wire form. */
export function encodeTransports(transports: readonly TransportDescriptor[]): unknown[] {
  const out = transports.map((t, i): unknown[] => {
    if (t.type === 'tls') {
      parseTransportAddress(t.address, `transports[${i}].address`);
      return ['tls', t.address];
    }
    if (t.type === 'overlay') return ['overlay'];
    return fail(`transports[${i}].type`, `${String((t as { type: unknown }).type)} is not a transport`);
  });
  decodeTransports(out);
  return out;
}

/**
 * Parses a peer's transport list strictly: at most MAX_TRANSPORTS descriptors, each
 * `[name, ...parameters]`; `tls` with exactly one valid address, `overlay` with none; no
 * duplicates. Descriptors with an unknown (well-formed) name are skipped.
 */
export function decodeTransports(value: unknown, field = 'transports'): TransportDescriptor[] {
  const items = list(value, field, MAX_TRANSPORTS);
  const out: TransportDescriptor[] = [];
  const seen = new Set<string>();
  items.forEach((item, i) => {
    const at = `${field}[${i}]`;
    if (!Array.isArray(item) || item.length < 1 || item.length > 4) fail(at, 'must be [name, ...parameters] with at most 3 parameters');
    const name = text(item[0], `${at}.name`, MAX_NAME_BYTES);
    if (!NAME.test(name)) fail(`${at}.name`, `${JSON.stringify(name)} is not a transport name (lowercase letters, digits, '-')`);
    let descriptor: TransportDescriptor;
    if (name === 'tls') {
      if (item.length !== 2) fail(at, 'tls takes exactly one parameter, host:port');
      parseTransportAddress(item[1], `${at}.address`);
      descriptor = { type: 'tls', address: item[1] as string };
    } else if (name === 'overlay') {
      if (item.length !== 1) fail(at, 'overlay takes no parameters');
      descriptor = { type: 'overlay' };
    } else {
      return; // a transport this peer does not know: not an error, just not usable
    }
    const key = descriptor.type === 'tls' ? `tls ${descriptor.address}` : 'overlay';
    if (seen.has(key)) fail(at, `${key} is listed twice`);
    seen.add(key);
    out.push(descriptor);
  });
  return out;
}

/** Decides whether a peer's `tls` address can be dialled from here (default: always). */
export type ReachablePredicate = (address: string) => boolean;

/**
 * The requesting peer's choice (seed §5 step 6) between its own transports and the remote
 * peer's: `tls` to the first of the remote's tls addresses that `reachable` accepts, when both
 * support tls; otherwise `overlay` when both support it (also when their tls addresses are all
 * unreachable). Nothing in common is
 * ReloadError(Not_Found, reason `no_common_transport`).
 */
export function chooseTransport(mine: readonly TransportDescriptor[], theirs: readonly TransportDescriptor[], reachable: ReachablePredicate = () => true): TransportDescriptor {
  const unreachable: string[] = [];
  if (mine.some((t) => t.type === 'tls')) {
    for (const t of theirs) {
      if (t.type !== 'tls') continue;
      if (reachable(t.address)) return t;
      unreachable.push(t.address);
    }
  }
  if (mine.some((t) => t.type === 'overlay') && theirs.some((t) => t.type === 'overlay')) return { type: 'overlay' };
  const names = (ts: readonly TransportDescriptor[]) => (ts.length ? ts.map((t) => (t.type === 'tls' ? `tls ${t.address}` : t.type)).join(', ') : 'none');
  const note = unreachable.length ? ` (tls ${unreachable.join(', ')} unreachable from here)` : '';
  throw new ReloadError(ErrorCode.Not_Found, `no transport in common: ours ${names(mine)}; theirs ${names(theirs)}${note}`, 'no_common_transport');
}
