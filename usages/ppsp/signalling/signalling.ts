/**
 * PPSP peer signalling over the overlay (seed draft §4.2, §4.5, §5 steps 1-6): method handlers
 * and the matching client calls, every message routed hop by hop to a Node-ID with the codes of
 * codes.ts. Bodies are CBOR arrays (layouts in codes.ts) and are validated strictly on both
 * sides: anything malformed is ReloadError(Invalid_Message) naming the field, lists are bounded.
 *
 * The handlers answer from a SignallingHost (the usage's per-swarm state): a swarm this node
 * does not take part in is ReloadError(Not_Found, `unknown_swarm`). Each request also teaches
 * the responder about the requester (properties, transports), so peer lists double as peer
 * exchange.
 */
import { bytes, ErrorCode, fail, type Id, idEquals, idField, idToHex, list, type MethodHandler, type Node, ReloadError, type RequestContext, shuffled, tuple, uint } from '../../../overlay/index.js';
import { decodeAvailability, encodeAvailability, type Availability } from '../content/availability.js';
import { PpspCode } from './codes.js';
import { decodeProperties, encodeProperties, similarity, type PeerProperties } from './properties.js';
import { MAX_CHUNK_COUNT } from '../content/swarm-id.js';
import type { PeerEntry } from './tracker.js';
import { decodeTransports, encodeTransports, type TransportDescriptor } from './transports.js';

/** Peers one peer list carries at most (the requested count is 1..this). */
export const MAX_PEER_LIST = 64;
/** Peers a node keeps in its view of one swarm; the least recently heard of goes first. */
export const MAX_VIEW_PEERS = 1024;
/** Bytes of a swarm ID on the wire (SHA-256, swarm-id.ts). */
const SWARM_ID_BYTES = 32;

// ---- the view of a swarm ---------------------------------------------------------------------

/**
 * The peers this node knows in one swarm: tracker members it fetched plus peers it exchanged
 * with, by Node-ID, newest knowledge merged in (a field not given keeps its old value). Bounded
 * by MAX_VIEW_PEERS, evicting the least recently heard of.
 */
export class PeerView {
  private readonly peers = new Map<string, PeerEntry>();

  constructor(private readonly maxPeers = MAX_VIEW_PEERS) {}

  get size(): number {
    return this.peers.size;
  }

  /** Adds or updates a peer; properties / transports / haveCount left out keep what was known. */
  learn(nodeId: Id, news: { properties?: PeerProperties; transports?: TransportDescriptor[]; haveCount?: number }): PeerEntry {
    const hex = idToHex(nodeId);
    const old = this.peers.get(hex);
    const entry: PeerEntry = {
      nodeId: old?.nodeId ?? nodeId,
      nodeIdHex: hex,
      transports: news.transports ?? old?.transports ?? [],
    };
    const properties = news.properties ?? old?.properties;
    if (properties) entry.properties = properties;
    const haveCount = news.haveCount ?? old?.haveCount;
    if (haveCount !== undefined) entry.haveCount = haveCount;
    this.peers.delete(hex); // re-insert: Map order is recency
    this.peers.set(hex, entry);
    if (this.peers.size > this.maxPeers) this.peers.delete(this.peers.keys().next().value!);
    return entry;
  }

  forget(nodeIdHex: string): boolean {
    return this.peers.delete(nodeIdHex);
  }

  get(nodeIdHex: string): PeerEntry | undefined {
    return this.peers.get(nodeIdHex);
  }

  list(): PeerEntry[] {
    return [...this.peers.values()];
  }
}

/**
 * Up to `count` of `candidates`, most similar to `to` first (properties.ts `similarity`); peers
 * whose properties are unknown come last; equal scores in random order (`random` in [0, 1)).
 */
export function pickSimilar(candidates: readonly PeerEntry[], to: PeerProperties, count: number, random: () => number = Math.random): PeerEntry[] {
  const scored = shuffled(candidates, random).map((p) => ({ p, score: p.properties ? similarity(to, p.properties) : -1 }));
  scored.sort((a, b) => b.score - a.score); // stable: ties keep their shuffled order
  return scored.slice(0, count).map((s) => s.p);
}

// ---- what the handlers answer from -----------------------------------------------------------

export interface SignallingHost {
  /** This node's Node-ID (never listed to others by itself). */
  readonly nodeId: Id;
  /** This node's properties, as it tells them. */
  properties(): PeerProperties;
  /** The transports this node offers for `swarmId`'s data. */
  transports(swarmId: string): TransportDescriptor[];
  /** The view of a swarm this node takes part in; undefined otherwise. */
  view(swarmId: string): PeerView | undefined;
  /** The chunks this node holds of a swarm (from the data plane); undefined: not known here. */
  localAvailability(swarmId: string): Availability | undefined;
  /** Whether a peer is known to hold a chunk; undefined when not known. */
  peerHasChunk?(swarmId: string, peerHex: string, chunk: number): boolean | undefined;
  /** Uniform in [0, 1), for tie-breaks. */
  random(): number;
}

// ---- body codecs -----------------------------------------------------------------------------

function swarmOf(value: unknown, field: string): string {
  // `bytes` returns a view into the frame, not a copy: fine, it is read into a string at once.
  return Buffer.from(bytes(value, field, SWARM_ID_BYTES, SWARM_ID_BYTES)).toString('hex');
}

function swarmBytes(swarmId: string): Buffer {
  if (!/^[0-9a-f]{64}$/.test(swarmId)) fail('swarm', 'must be 64 lowercase hex digits', 'bad_swarm_id');
  return Buffer.from(swarmId, 'hex');
}

export interface PeerListRequest {
  swarmId: string;
  /** A chunk the requester wants holders of (seed §4.2.1 "a particular swarm or chunk"). */
  chunk?: number;
  /** Peers wanted, 1..MAX_PEER_LIST. */
  count: number;
  properties: PeerProperties;
}

export function encodePeerListReq(r: PeerListRequest): unknown[] {
  return [swarmBytes(r.swarmId), r.chunk === undefined ? null : uint(r.chunk, 'chunk', 0, MAX_CHUNK_COUNT - 1), uint(r.count, 'count', 1, MAX_PEER_LIST), encodeProperties(r.properties)];
}

export function decodePeerListReq(body: unknown): PeerListRequest {
  const [swarm, chunk, count, properties] = tuple(body, 'PeerListReq', 4);
  const out: PeerListRequest = { swarmId: swarmOf(swarm, 'PeerListReq.swarm'), count: uint(count, 'PeerListReq.count', 1, MAX_PEER_LIST), properties: decodeProperties(properties, 'PeerListReq.properties') };
  if (chunk !== null) out.chunk = uint(chunk, 'PeerListReq.chunk', 0, MAX_CHUNK_COUNT - 1);
  return out;
}

function encodeEntry(p: PeerEntry): unknown[] {
  return [Uint8Array.from(p.nodeId), p.properties ? encodeProperties(p.properties) : null, encodeTransports(p.transports)];
}

/**
 * Parses a PeerListAns: at most `maxCount` entries `[node-id, properties / null, transports]`,
 * no Node-ID twice.
 */
export function decodePeerListAns(body: unknown, maxCount = MAX_PEER_LIST): PeerEntry[] {
  const [entries] = tuple(body, 'PeerListAns', 1);
  const items = list(entries, 'PeerListAns.peers', maxCount);
  const seen = new Set<string>();
  return items.map((item, i) => {
    const at = `PeerListAns.peers[${i}]`;
    const [id, properties, transports] = tuple(item, at, 3);
    const nodeId = idField(id, `${at}.nodeId`);
    const nodeIdHex = idToHex(nodeId);
    if (seen.has(nodeIdHex)) fail(`${at}.nodeId`, `${nodeIdHex} is listed twice`);
    seen.add(nodeIdHex);
    const entry: PeerEntry = { nodeId, nodeIdHex, transports: decodeTransports(transports, `${at}.transports`) };
    if (properties !== null) entry.properties = decodeProperties(properties, `${at}.properties`);
    return entry;
  });
}

function decodeSwarmOnly(body: unknown, name: string): string {
  const [swarm] = tuple(body, name, 1);
  return swarmOf(swarm, `${name}.swarm`);
}

export function decodeAvailabilityAns(body: unknown, chunkCount: number): Availability {
  const [count, availability] = tuple(body, 'AvailabilityAns', 2);
  const theirs = uint(count, 'AvailabilityAns.chunkCount', 0, MAX_CHUNK_COUNT);
  if (theirs !== chunkCount) fail('AvailabilityAns.chunkCount', `${theirs} is not the swarm's ${chunkCount}`);
  return decodeAvailability(availability, chunkCount);
}

export function decodePropertiesReq(body: unknown): { swarmId?: string; properties: PeerProperties } {
  const [swarm, properties] = tuple(body, 'PropertiesReq', 2);
  const out: { swarmId?: string; properties: PeerProperties } = { properties: decodeProperties(properties, 'PropertiesReq.properties') };
  if (swarm !== null) out.swarmId = swarmOf(swarm, 'PropertiesReq.swarm');
  return out;
}

export function decodePropertiesAns(body: unknown): PeerProperties {
  const [properties] = tuple(body, 'PropertiesAns', 1);
  return decodeProperties(properties, 'PropertiesAns.properties');
}

export function decodeTransportReq(body: unknown): { swarmId: string; transports: TransportDescriptor[] } {
  const [swarm, transports] = tuple(body, 'TransportReq', 2);
  return { swarmId: swarmOf(swarm, 'TransportReq.swarm'), transports: decodeTransports(transports, 'TransportReq.transports') };
}

export function decodeTransportAns(body: unknown): TransportDescriptor[] {
  const [transports] = tuple(body, 'TransportAns', 1);
  return decodeTransports(transports, 'TransportAns.transports');
}

// ---- handlers ---------------------------------------------------------------------------------

function unknownSwarm(swarmId: string): ReloadError {
  return new ReloadError(ErrorCode.Not_Found, `this node takes no part in swarm ${swarmId}`, 'unknown_swarm');
}

function viewOf(host: SignallingHost, swarmId: string): PeerView {
  const view = host.view(swarmId);
  if (!view) throw unknownSwarm(swarmId);
  return view;
}

const requester = (ctx: RequestContext): Id => ctx.signer.identity.nodeId;

/** The PPSP signalling handlers, one per request code. */
export function signallingHandlers(host: SignallingHost): MethodHandler[] {
  return [
    {
      // Seed §4.2.1: pick from our own view, never the requester or us, holders of the chunk if
      // one is named (peers known to lack it are left out), most similar to the requester first.
      code: PpspCode.PeerListReq,
      handle(body, ctx) {
        const req = decodePeerListReq(body);
        const view = viewOf(host, req.swarmId);
        const from = requester(ctx);
        const candidates = view.list().filter((p) => {
          if (idEquals(p.nodeId, from) || idEquals(p.nodeId, host.nodeId)) return false;
          return req.chunk === undefined || host.peerHasChunk?.(req.swarmId, p.nodeIdHex, req.chunk) !== false;
        });
        const picked = pickSimilar(candidates, req.properties, req.count, () => host.random());
        view.learn(from, { properties: req.properties });
        return [picked.map(encodeEntry)];
      },
    },
    {
      // Seed §4.2.2: our availability, tagged (bitmap or ranges, whichever is smaller).
      code: PpspCode.AvailabilityReq,
      handle(body) {
        const swarmId = decodeSwarmOnly(body, 'AvailabilityReq');
        const availability = host.localAvailability(swarmId);
        if (!availability) throw unknownSwarm(swarmId);
        return [availability.chunkCount, encodeAvailability(availability)];
      },
    },
    {
      // Seed §4.2.3: theirs in the request, ours in the answer: one round trip both ways.
      code: PpspCode.PropertiesReq,
      handle(body, ctx) {
        const req = decodePropertiesReq(body);
        if (req.swarmId !== undefined) viewOf(host, req.swarmId).learn(requester(ctx), { properties: req.properties });
        return [encodeProperties(host.properties())];
      },
    },
    {
      // Seed §4.5, §5 step 5: each side reports its transports; the requester chooses.
      code: PpspCode.TransportReq,
      handle(body, ctx) {
        const req = decodeTransportReq(body);
        viewOf(host, req.swarmId).learn(requester(ctx), { transports: req.transports });
        return [encodeTransports(host.transports(req.swarmId))];
      },
    },
    {
      // Goodbye: the requester left the swarm; it leaves our view (and our peer lists).
      code: PpspCode.SwarmLeaveReq,
      handle(body, ctx) {
        const swarmId = decodeSwarmOnly(body, 'SwarmLeaveReq');
        host.view(swarmId)?.forget(idToHex(requester(ctx)));
        return [];
      },
    },
  ];
}

// ---- client calls -----------------------------------------------------------------------------

type Requester = Pick<Node, 'request'>;

const to = (peer: Id) => [{ type: 'node' as const, id: peer }];

/** Seed §4.2.1: asks `peer` for up to `count` peers of a swarm (or holders of a chunk). */
export async function requestPeerList(node: Requester, peer: Id, req: PeerListRequest, timeoutMs?: number): Promise<PeerEntry[]> {
  const res = await node.request(to(peer), PpspCode.PeerListReq, encodePeerListReq(req), timeoutMs);
  return decodePeerListAns(res.body, req.count);
}

/** Seed §4.2.2: `peer`'s availability of a swarm of `chunkCount` chunks. */
export async function requestAvailability(node: Requester, peer: Id, swarmId: string, chunkCount: number, timeoutMs?: number): Promise<Availability> {
  const res = await node.request(to(peer), PpspCode.AvailabilityReq, [swarmBytes(swarmId)], timeoutMs);
  return decodeAvailabilityAns(res.body, chunkCount);
}

/** Seed §4.2.3: tells `peer` our properties and returns theirs. */
export async function exchangeProperties(node: Requester, peer: Id, properties: PeerProperties, swarmId?: string, timeoutMs?: number): Promise<PeerProperties> {
  const res = await node.request(to(peer), PpspCode.PropertiesReq, [swarmId === undefined ? null : swarmBytes(swarmId), encodeProperties(properties)], timeoutMs);
  return decodePropertiesAns(res.body);
}

/** Seed §4.5: tells `peer` our transports for a swarm and returns theirs (we then choose). */
export async function requestTransports(node: Requester, peer: Id, swarmId: string, transports: readonly TransportDescriptor[], timeoutMs?: number): Promise<TransportDescriptor[]> {
  const res = await node.request(to(peer), PpspCode.TransportReq, [swarmBytes(swarmId), encodeTransports(transports)], timeoutMs);
  return decodeTransportAns(res.body);
}

/** Tells `peer` we left a swarm. */
export async function sendSwarmLeave(node: Requester, peer: Id, swarmId: string, timeoutMs?: number): Promise<void> {
  const res = await node.request(to(peer), PpspCode.SwarmLeaveReq, [swarmBytes(swarmId)], timeoutMs);
  tuple(res.body, 'SwarmLeaveAns', 0);
}
