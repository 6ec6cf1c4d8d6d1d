/**
 * Peer properties (seed draft §4.2.3, §4.2.1 "Peerlist Parameter"): what a peer tells others about
 * itself so that they can pick peers like it — access type, upload and download capacity, NAT
 * status and uptime. Pure: a strict CBOR-ready codec and the similarity score the peer-list
 * responder ranks by. Every refusal is ReloadError(Invalid_Message) naming the field.
 */
import { fail, tuple, uint } from '../../../overlay/index.js';

/** How the peer reaches the Internet. */
export const ACCESS_TYPES = ['fixed', 'mobile', 'wifi'] as const;
export type AccessType = (typeof ACCESS_TYPES)[number];

/** Whether the peer is directly reachable: a public address, behind a NAT, or not known. */
export const NAT_STATUSES = ['unknown', 'public', 'nat'] as const;
export type NatStatus = (typeof NAT_STATUSES)[number];

/** Capacities above 100 Gbit/s are refused as implausible. */
export const MAX_CAPACITY_KBPS = 100_000_000;
/** Uptime is a u32 of seconds (136 years). */
export const MAX_UPTIME_SEC = 0xffff_ffff;

export interface PeerProperties {
  accessType: AccessType;
  /** Upload capacity, kbit/s. */
  upKbps: number;
  /** Download capacity, kbit/s. */
  downKbps: number;
  nat: NatStatus;
  /** Seconds since the peer started. */
  uptimeSec: number;
}

/** Wire form: `[access, up kbps, down kbps, nat, uptime s]`, access and NAT as their list index. */
export type PropertiesValue = [number, number, number, number, number];

/** Checks a local value (throws Invalid_Message like the decoder) and returns the wire form. */
export function encodeProperties(p: PeerProperties): PropertiesValue {
  const access = ACCESS_TYPES.indexOf(p.accessType);
  const nat = NAT_STATUSES.indexOf(p.nat);
  if (access < 0) fail('properties.accessType', `${String(p.accessType)} is not one of ${ACCESS_TYPES.join(', ')}`);
  if (nat < 0) fail('properties.nat', `${String(p.nat)} is not one of ${NAT_STATUSES.join(', ')}`);
  return [
    access,
    uint(p.upKbps, 'properties.upKbps', 0, MAX_CAPACITY_KBPS),
    uint(p.downKbps, 'properties.downKbps', 0, MAX_CAPACITY_KBPS),
    nat,
    uint(p.uptimeSec, 'properties.uptimeSec', 0, MAX_UPTIME_SEC),
  ];
}

/** Parses the wire form strictly: exactly five integers, known access type and NAT status. */
export function decodeProperties(value: unknown, field = 'properties'): PeerProperties {
  const [access, up, down, nat, uptime] = tuple(value, field, 5);
  const accessType = ACCESS_TYPES[uint(access, `${field}.accessType`, 0, ACCESS_TYPES.length - 1)]!;
  return {
    accessType,
    upKbps: uint(up, `${field}.upKbps`, 0, MAX_CAPACITY_KBPS),
    downKbps: uint(down, `${field}.downKbps`, 0, MAX_CAPACITY_KBPS),
    nat: NAT_STATUSES[uint(nat, `${field}.nat`, 0, NAT_STATUSES.length - 1)]!,
    uptimeSec: uint(uptime, `${field}.uptimeSec`, 0, MAX_UPTIME_SEC),
  };
}

/** Weights of the similarity terms; they sum to 1. */
export const SIMILARITY_WEIGHTS = Object.freeze({ access: 0.3, up: 0.3, down: 0.15, nat: 0.15, uptime: 0.1 });

/** x and y as a ratio in [0, 1]: min / max, 1 when equal (also both 0), 0 when only one is 0. */
function closeness(x: number, y: number): number {
  if (x === y) return 1;
  return Math.min(x, y) / Math.max(x, y);
}

/**
 * How alike two peers are, in [0, 1] (seed §4.2.1: a responder picks peers "similar" to the
 * requester, so that slow peers are paired with slow peers and fast ones are not swamped):
 *
 *   S = 0.30·[access equal] + 0.30·r(up) + 0.15·r(down) + 0.15·n(nat) + 0.10·r(uptime)
 *
 * with r(x) = min(a.x, b.x) / max(a.x, b.x) (1 when equal) — capacities compare by ratio, so 1 and
 * 2 Mbit/s are as alike as 100 and 200 — and n = 1 for the same known NAT status, 0.5 when either
 * is unknown, 0 for public vs nat. Symmetric; 1 for identical properties with a known NAT status.
 */
export function similarity(a: PeerProperties, b: PeerProperties): number {
  const w = SIMILARITY_WEIGHTS;
  const nat = a.nat === 'unknown' || b.nat === 'unknown' ? 0.5 : a.nat === b.nat ? 1 : 0;
  return (
    w.access * (a.accessType === b.accessType ? 1 : 0) +
    w.up * closeness(a.upKbps, b.upKbps) +
    w.down * closeness(a.downKbps, b.downKbps) +
    w.nat * nat +
    w.uptime * closeness(a.uptimeSec, b.uptimeSec)
  );
}
