/**
 * The distributed tracker (DESIGN "the overlay is the tracker"; seed §4.1, §6.2.1): a swarm's
 * members are a dictionary stored in the overlay at Resource-ID = H(swarm ID in hex), one entry
 * per member keyed by its Node-ID. The NODE-ID-MATCH policy lets a node write only under its own
 * Node-ID, and every entry is signed by its member, so a fetcher gets verified entries. A member
 * re-announces before its entry expires: the storage layer re-stores what a node stored itself
 * (storage-service `remember` / `refreshDue`, at 3/4 of the lifetime) until it withdraws.
 */
import { decodeCbor, encodeCbor, ErrorCode, fail, type Id, ID_BYTES, idEquals, idFromBytes, idToHex, type Kind, type Node, ReloadError, resourceIdOf, tuple, uint } from '../../../overlay/index.js';
import { decodeProperties, encodeProperties, type PeerProperties } from './properties.js';
import { MAX_CHUNK_COUNT, parseSwarmId } from '../content/swarm-id.js';
import { decodeTransports, encodeTransports, type TransportDescriptor } from './transports.js';

/** The swarm-membership Kind, registered by the PPSP usage (a private-range Kind-ID). */
export const SWARM_KIND: Readonly<Kind> = Object.freeze({
  id: 0xf0000101,
  name: 'ppsp-swarm',
  dataModel: 'dictionary',
  accessControl: 'NODE-ID-MATCH',
  /** Members per swarm the overlay holds. */
  maxCount: 1024,
  /** Bytes of one member entry. */
  maxSize: 1024,
});

/** Seconds an announcement lives unless refreshed (the storer refreshes it at 3/4). */
export const DEFAULT_ANNOUNCE_LIFETIME_SEC = 600;

/**
 * Version of the entry's wire form: `[1, properties, transports, have count / null]`, and a fifth
 * item `true` for a member of a live channel (one that says nothing is a static swarm's).
 */
const ENTRY_VERSION = 1;

/** What a member says about itself in the tracker. */
export interface SwarmAnnouncement {
  properties: PeerProperties;
  transports: TransportDescriptor[];
  /** Chunks the member holds, if it says. */
  haveCount?: number;
  /** The swarm is a live channel (live-swarm.ts), not a file. */
  live?: boolean;
}

/** A swarm member as this node knows it (from the tracker or from exchanges with it). */
export interface PeerEntry {
  nodeId: Id;
  nodeIdHex: string;
  /** Unknown until the peer announced or exchanged them. */
  properties?: PeerProperties;
  transports: TransportDescriptor[];
  haveCount?: number;
  live?: boolean;
}

/** Resource-ID of a swarm's member dictionary: the overlay hash of the swarm ID (lowercase hex). */
export function swarmResource(swarmId: string, hash: Node['config']['hash']): Id {
  return resourceIdOf(parseSwarmId(swarmId), hash);
}

/** The dictionary value of an announcement; Data_Too_Large if it exceeds the Kind's maxSize. */
export function encodeAnnouncement(a: SwarmAnnouncement): Uint8Array {
  const have = a.haveCount === undefined ? null : uint(a.haveCount, 'announcement.haveCount', 0, MAX_CHUNK_COUNT);
  const bytes = encodeCbor([ENTRY_VERSION, encodeProperties(a.properties), encodeTransports(a.transports), have, ...(a.live ? [true] : [])]);
  if (bytes.length > SWARM_KIND.maxSize) throw new ReloadError(ErrorCode.Data_Too_Large, `a swarm entry of ${bytes.length} bytes exceeds ${SWARM_KIND.maxSize}`, 'entry_too_large');
  return Uint8Array.from(bytes);
}

/** Parses a member's dictionary value strictly (Invalid_Message naming the field). */
export function decodeAnnouncement(bytes: Uint8Array): SwarmAnnouncement {
  const items = decodeCbor(bytes);
  const [version, properties, transports, have, live] = tuple(items, 'announcement', Array.isArray(items) && items.length === 5 ? 5 : 4);
  if (live !== undefined && live !== true) fail('announcement.live', 'must be true when present');
  if (version !== ENTRY_VERSION) fail('announcement.version', `${String(version)} is not ${ENTRY_VERSION}`);
  const out: SwarmAnnouncement = { properties: decodeProperties(properties, 'announcement.properties'), transports: decodeTransports(transports, 'announcement.transports') };
  if (have !== null) out.haveCount = uint(have, 'announcement.haveCount', 0, MAX_CHUNK_COUNT);
  if (live === true) out.live = true;
  return out;
}

/**
 * Stores this node's entry in the swarm's member dictionary under its own Node-ID, to live
 * `lifetimeSec`; the node's storage re-stores it before it expires until `withdraw`. Calling it
 * again replaces the entry (e.g. new properties).
 */
export async function announce(node: Node, swarmId: string, entry: SwarmAnnouncement, lifetimeSec = DEFAULT_ANNOUNCE_LIFETIME_SEC): Promise<void> {
  const value = { model: 'dictionary' as const, key: Uint8Array.from(node.nodeId), value: { exists: true, value: encodeAnnouncement(entry) } };
  await node.storage.store(SWARM_KIND.name, swarmResource(swarmId, node.config.hash), value, { lifetimeSec });
}

/** Replaces this node's entry with a signed tombstone (and stops refreshing it). */
export async function withdraw(node: Node, swarmId: string, lifetimeSec = DEFAULT_ANNOUNCE_LIFETIME_SEC): Promise<void> {
  const value = { model: 'dictionary' as const, key: Uint8Array.from(node.nodeId), value: { exists: false, value: new Uint8Array(0) } };
  await node.storage.store(SWARM_KIND.name, swarmResource(swarmId, node.config.hash), value, { lifetimeSec });
}

export interface SwarmMembers {
  peers: PeerEntry[];
  /** Entries dropped: a bad signature (counted by storage), a key not the signer's, or a malformed value. */
  rejected: number;
}

/**
 * The swarm's live members from the tracker, each entry signed by the member it names (the
 * signatures are verified by the storage layer; the key is checked against the signer here
 * too). Tombstones are left out; a malformed entry is dropped and counted, never fatal.
 */
export async function members(node: Node, swarmId: string): Promise<SwarmMembers> {
  const result = await node.storage.fetch(SWARM_KIND.name, swarmResource(swarmId, node.config.hash));
  const peers: PeerEntry[] = [];
  let rejected = result.rejected;
  for (const { data, signer } of result.values) {
    const v = data.value;
    if (v.model !== 'dictionary' || v.key.length !== ID_BYTES || !idEquals(v.key, signer.identity.nodeId)) {
      rejected++;
      continue;
    }
    if (!v.value.exists) continue;
    try {
      const a = decodeAnnouncement(v.value.value);
      const nodeId = idFromBytes(Uint8Array.from(v.key));
      peers.push({ nodeId, nodeIdHex: idToHex(nodeId), properties: a.properties, transports: a.transports, ...(a.haveCount === undefined ? {} : { haveCount: a.haveCount }), ...(a.live ? { live: true } : {}) });
    } catch {
      rejected++;
    }
  }
  return { peers, rejected };
}
