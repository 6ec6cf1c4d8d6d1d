/**
 * Transport descriptors and their negotiation (seed draft §4.5, §5 steps 5-6): each side reports
 * the transports it supports with their addresses; the requesting peer chooses. Three exist:
 *
 * - `tls`: a direct data channel to `address` (host:port) opened with AppAttach, mutual TLS with
 *   the overlay certificates (private);
 * - `ppspp`: PPSPP channels (RFC 7574) over UDP to `address`, under LEDBAT (standard; not private);
 * - `overlay`: chunks relayed through overlay routing, for peers with no direct path (NAT).
 *
 * On the wire a descriptor is `[name, ...parameters]`: `["tls", "host:port"]`, `["ppspp",
 * "ip:port"]` or `["overlay"]`.
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

export interface PpsppTransportDescriptor {
  type: 'ppspp';
  /** `ip:port` (an IPv6 address in brackets) of the peer's PPSPP socket. */
  address: string;
}

export interface OverlayTransport {
  type: 'overlay';
}

export type TransportDescriptor = TlsTransport | PpsppTransportDescriptor | OverlayTransport;

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
    if (t.type === 'tls' || t.type === 'ppspp') {
      parseTransportAddress(t.address, `transports[${i}].address`);
      return [t.type, t.address];
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
    if (name === 'tls' || name === 'ppspp') {
      if (item.length !== 2) fail(at, `${name} takes exactly one parameter, host:port`);
      const { host } = parseTransportAddress(item[1], `${at}.address`);
      // A UDP peer is named by its address: a DNS name would let whoever answers for it speak for the peer.
      if (name === 'ppspp' && isIP(host) === 0) fail(`${at}.address`, 'of ppspp must be an IP address');
      descriptor = { type: name, address: item[1] as string };
    } else if (name === 'overlay') {
      if (item.length !== 1) fail(at, 'overlay takes no parameters');
      descriptor = { type: 'overlay' };
    } else {
      return; // a transport this peer does not know: not an error, just not usable
    }
    const key = describe(descriptor);
    if (seen.has(key)) fail(at, `${key} is listed twice`);
    seen.add(key);
    out.push(descriptor);
  });
  return out;
}

/** Decides whether a peer's direct address (`tls` or `ppspp`) can be reached from here (default: always). */
export type ReachablePredicate = (address: string, type: 'tls' | 'ppspp') => boolean;

function describe(t: TransportDescriptor): string {
  return t.type === 'overlay' ? 'overlay' : `${t.type} ${t.address}`;
}

/**
 * The requesting peer's choice (seed §5 step 6): the first of its own transports, in its order of
 * preference, that the remote peer offers too: for `tls` and `ppspp` the first of the remote's
 * addresses of that kind that `reachable` accepts, for `overlay` the remote offering it. Nothing
 * in common is ReloadError(Not_Found, reason `no_common_transport`).
 */
export function chooseTransport(mine: readonly TransportDescriptor[], theirs: readonly TransportDescriptor[], reachable: ReachablePredicate = () => true): TransportDescriptor {
  const unreachable: string[] = [];
  for (const own of mine) {
    if (own.type === 'overlay') {
      if (theirs.some((t) => t.type === 'overlay')) return own;
      continue;
    }
    for (const t of theirs) {
      if (t.type !== own.type) continue;
      if (reachable(t.address, t.type)) return t;
      unreachable.push(describe(t));
    }
  }
  const names = (ts: readonly TransportDescriptor[]) => (ts.length ? ts.map(describe).join(', ') : 'none');
  const note = unreachable.length ? ` (${unreachable.join(', ')} unreachable from here)` : '';
  throw new ReloadError(ErrorCode.Not_Found, `no transport in common: ours ${names(mine)}; theirs ${names(theirs)}${note}`, 'no_common_transport');
}
