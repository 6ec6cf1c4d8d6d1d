/**
 * The overlay configuration document (RFC 6940 §11.1, in JSON instead of XML): overlay name,
 * root certificates, topology plugin, hash, bootstrap nodes, limits and kinds. Every field is
 * validated on load, and a field the document has but we do not know is refused; an error names
 * the bad field.
 */
import { readFile } from 'node:fs/promises';
import { ID_HASHES, type IdHash } from './id.js';
import { closestName } from './util/closest-name.js';
import { CHORD_DEFAULTS, CHORD_RANGES, type ChordConfig } from './topology/chord/chord-config.js';
import { KADEMLIA_DEFAULTS, KADEMLIA_RANGES, type KademliaConfig } from './topology/kademlia/kademlia-config.js';

export type { ChordConfig, KademliaConfig };

/** Topology plugins this node implements; each reads its own section (`chord`, `kademlia`). */
export const TOPOLOGIES = ['CHORD-RELOAD', 'KADEMLIA'] as const;
export type TopologyName = (typeof TOPOLOGIES)[number];

export const DATA_MODELS = ['single', 'array', 'dictionary'] as const;
export const ACCESS_POLICIES = ['USER-MATCH', 'NODE-MATCH', 'USER-NODE-MATCH', 'NODE-MULTIPLE', 'NODE-ID-MATCH'] as const;

/** A kind declared in the configuration (RFC 6940 §7.4.1, §11.1 kind blocks). */
export interface KindConfig {
  id: number;
  name: string;
  dataModel: (typeof DATA_MODELS)[number];
  accessControl: (typeof ACCESS_POLICIES)[number];
  maxCount: number;
  maxSize: number;
  /** NODE-MULTIPLE only: the largest index i in H(Node-ID ‖ i). */
  maxNodeMultiple?: number;
}

export interface BootstrapNode {
  host: string;
  port: number;
}

/** Storage settings (RFC 6940 §7, §10.4). */
export interface StorageConfig {
  /** Copies of each value: the responsible peer and its next successors (CHORD-RELOAD: 3). */
  replicas: number;
  /** Bytes of stored values a peer holds at most; further stores are refused. */
  maxBytes: number;
  /** Default lifetime of a stored value, s. */
  defaultLifetimeSec: number;
  /** Period of the full replica check, the expiry sweep and refreshes, ms (a table change checks replica sets at once). */
  syncIntervalMs: number;
}

/** Limits on the links of one node, so no single source of connections can keep it out of the overlay. */
export interface LinkLimitsConfig {
  /** Links one Node-ID may hold at once: the one in use, and room for a second while it is judged. */
  maxPerNode: number;
  /** A TLS handshake not finished within this is abandoned, ms. */
  handshakeTimeoutMs: number;
  /** Connections still in their TLS handshake at once; further ones are refused. */
  maxPendingHandshakes: number;
  /** A peer that linked to us must send a frame within this (we Ping it at once), or the link is closed, ms. */
  greetingTimeoutMs: number;
  /** Links to one application channel (AppAttach, e.g. the PPSP data channel) at once. */
  maxApplicationLinks: number;
  /** Links one Node-ID may hold to one application channel. */
  maxApplicationLinksPerNode: number;
  /** Peers asked at join what address they see this node from and to dial it back (0: none; overlay/nat/). */
  reachabilityPeers: number;
  /** The same asked again this often while the node runs, ms (0: only at join). */
  reachabilityIntervalMs: number;
  /** A reversed, punched or relayed link not made within this is given up, ms. */
  traversalTimeoutMs: number;
  /**
   * A dial-back not through within this counts as failed, ms. Short: a NAT drops the SYN without a
   * word, and the node waits this long at join before its Attaches.
   */
  dialBackTimeoutMs: number;
  /** Dial-backs this node runs for others at once; more are answered "not tried". */
  maxDialBacks: number;
  /** Sockets a side opens for a birthday punch, when one NAT picks new ports (0: never; overlay/link/tcp-spray.ts). */
  punchSpraySockets: number;
  /** Circuits this node relays at once for nodes nobody can dial (0: it relays for nobody). */
  relayCircuits: number;
  /** Nodes that may hold a reservation at this relay at once. */
  relayReservations: number;
  /** Bytes one relayed circuit carries before the relay closes it. */
  relayCircuitBytes: number;
  /** A relayed circuit is closed this long after it opened, ms. */
  relayCircuitMs: number;
  /** The port the relay listens on, beside the overlay's (0: a free one, chosen at start). */
  relayPort: number;
}

export interface OverlayConfig {
  overlay: string;
  /** Configuration sequence number carried in every forwarding header (RFC 6940 §6.3.2.1). */
  sequence: number;
  rootCerts: string[];
  topology: TopologyName;
  hash: IdHash;
  bootstrap: BootstrapNode[];
  /** Largest message accepted from a link, in bytes; larger frames are refused unread. */
  maxMessageSize: number;
  /** TTL of a new request (RFC 6940 §6.3.2: at most 100 by default). */
  initialTtl: number;
  /** End-to-end request timeout, ms (RFC 6940 §6.2.1 caps a request's life at 15 s). */
  requestTimeoutMs: number;
  /** End-to-end retransmission interval of a request without answer, ms (RFC 6940 §6.2.1: 3000). */
  reliabilityTimerMs: number;
  /** Sends of one request at most, the first included (RFC 6940 §6.2.1: 5). */
  maxTransmissions: number;
  /** Requests a node may have outstanding at once. */
  maxOutstandingRequests: number;
  /** Links (connections) a node keeps at most. */
  maxLinks: number;
  /**
   * Routes a RouteQuery and a Fetch take at once, each through a different first hop (RFC 6940
   * §13.5; S/Kademlia's disjoint paths), so peers that drop or lie on one route do not decide the
   * answer: the best owner's answer, or the newest value that verifies, wins. 1: one route (fastest).
   */
  lookupPaths: number;
  /** Messages queued for sending on one link before further sends are refused. */
  linkQueueLimit: number;
  kinds: KindConfig[];
  chord: ChordConfig;
  kademlia: KademliaConfig;
  storage: StorageConfig;
  links: LinkLimitsConfig;
  /**
   * Requests carry a reference to the signer's certificate (its hash) instead of the certificate
   * once the node has stored it in the certificate store (RFC 6940 §8); receivers look it up.
   */
  certificateReferences: boolean;
}

/** Defaults applied when the document leaves a field out. */
export const CONFIG_DEFAULTS = {
  sequence: 1,
  topology: 'CHORD-RELOAD',
  hash: 'sha1',
  bootstrap: [] as BootstrapNode[],
  maxMessageSize: 1 << 20,
  initialTtl: 100,
  requestTimeoutMs: 15_000,
  reliabilityTimerMs: 3000,
  maxTransmissions: 5,
  maxOutstandingRequests: 1024,
  maxLinks: 256,
  lookupPaths: 1,
  linkQueueLimit: 1024,
  certificateReferences: false,
  chord: CHORD_DEFAULTS,
  kademlia: KADEMLIA_DEFAULTS,
  links: {
    maxPerNode: 2,
    handshakeTimeoutMs: 10_000,
    maxPendingHandshakes: 128,
    greetingTimeoutMs: 10_000,
    maxApplicationLinks: 256,
    maxApplicationLinksPerNode: 16,
    reachabilityPeers: 2,
    reachabilityIntervalMs: 600_000,
    traversalTimeoutMs: 10_000,
    dialBackTimeoutMs: 3_000,
    maxDialBacks: 8,
    punchSpraySockets: 700,
    relayCircuits: 16,
    relayReservations: 64,
    relayCircuitBytes: 256 * 1024 * 1024,
    relayCircuitMs: 3_600_000,
    relayPort: 0,
  } satisfies LinkLimitsConfig,
  storage: {
    replicas: 3,
    maxBytes: 256 * 1024 * 1024,
    defaultLifetimeSec: 86_400,
    syncIntervalMs: 30_000,
  } satisfies StorageConfig,
} as const;

/** A kind every overlay made by `ca init` declares: one value per user at H(user name). */
export const USER_VALUE_KIND: KindConfig = {
  id: 0xf0000001,
  name: 'user-value',
  dataModel: 'single',
  accessControl: 'USER-MATCH',
  maxCount: 1,
  maxSize: 64 * 1024,
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Json = Record<string, unknown>;

/**
 * Bytes of a Store request besides its one value at most: forwarding header, the StoreReq
 * framing, the value's own signature and the security block with one certificate chain.
 */
const VALUE_ENVELOPE_BYTES = 8192;

function fail(field: string, what: string): never {
  throw new ConfigError(`overlay config: "${field}" ${what}`);
}

function integer(doc: Json, field: string, min: number, max: number, fallback?: number): number {
  const v = doc[field] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(field, `must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return v;
}

function boolean(doc: Json, field: string, fallback: boolean): boolean {
  const v = doc[field] ?? fallback;
  if (typeof v !== 'boolean') fail(field, `must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

function oneOf<T extends string>(doc: Json, field: string, allowed: readonly T[], fallback?: T): T {
  const v = doc[field] ?? fallback;
  if (!allowed.includes(v as T)) fail(field, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

/**
 * Refuses a field of `obj` that is not in `known`: a misspelt field (`storage.maxbytes`) would
 * otherwise be ignored and its default used in silence. Names the field's path and the closest
 * known field (edit distance, case-insensitive).
 */
function knownFieldsOnly(obj: Json, path: string, known: readonly string[]): void {
  const at = (field: string) => (path ? `${path}.${field}` : field);
  for (const field of Object.keys(obj)) {
    if (known.includes(field)) continue;
    const near = closestName(field, known);
    throw new ConfigError(`overlay config: unknown field ${at(field)} ${near ? `(did you mean ${at(near)}?)` : `(known: ${known.join(', ')})`}`);
  }
}

/** The fields of the document's top level and of a kind block; `satisfies` keeps them in step with the types. */
const TOP_FIELDS = Object.keys({
  overlay: 0, sequence: 0, rootCerts: 0, topology: 0, hash: 0, bootstrap: 0, maxMessageSize: 0, initialTtl: 0, requestTimeoutMs: 0,
  reliabilityTimerMs: 0, maxTransmissions: 0, maxOutstandingRequests: 0, maxLinks: 0, lookupPaths: 0, linkQueueLimit: 0, kinds: 0, chord: 0, kademlia: 0, storage: 0, links: 0,
  certificateReferences: 0,
} satisfies Record<keyof OverlayConfig, 0>);
const KIND_FIELDS = Object.keys({ id: 0, name: 0, dataModel: 0, accessControl: 0, maxCount: 0, maxSize: 0, maxNodeMultiple: 0 } satisfies Record<keyof KindConfig, 0>);

const OVERLAY_NAME = /^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/i;

/** Parses "HOST:PORT" or "[IPv6]:PORT"; port 0 (any free port) only when `allowAnyPort`, for listening. */
export function parseHostPort(text: string, field = 'address', allowAnyPort = false): BootstrapNode {
  const m = /^(?:\[([0-9a-f:.]+)\]|([^:\s]+)):(\d{1,5})$/i.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < (allowAnyPort ? 0 : 1) || port > 65535) throw new ConfigError(`${field}: "${text}" is not HOST:PORT (e.g. 127.0.0.1:6084 or [::1]:6084)`);
  return { host: (m[1] ?? m[2])!, port };
}

function bootstrapList(doc: Json): BootstrapNode[] {
  const v = doc.bootstrap ?? [];
  if (!Array.isArray(v)) fail('bootstrap', 'must be a list of "HOST:PORT" strings');
  return v.map((entry, i) => {
    if (typeof entry !== 'string') fail(`bootstrap[${i}]`, 'must be a "HOST:PORT" string');
    return parseHostPort(entry, `overlay config: "bootstrap[${i}]"`);
  });
}

function kind(raw: unknown, i: number): KindConfig {
  const at = `kinds[${i}]`;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) fail(at, 'must be an object');
  const k = raw as Json;
  knownFieldsOnly(k, at, KIND_FIELDS);
  if (typeof k.name !== 'string' || !/^[a-z][a-z0-9-]{0,63}$/.test(k.name)) fail(`${at}.name`, 'must be a lowercase name (a-z, 0-9, -)');
  const out: KindConfig = {
    id: integer(k, 'id', 1, 0xfffffffe),
    name: k.name,
    dataModel: oneOf(k, 'dataModel', DATA_MODELS),
    accessControl: oneOf(k, 'accessControl', ACCESS_POLICIES),
    maxCount: integer(k, 'maxCount', 1, 1024),
    maxSize: integer(k, 'maxSize', 1, 64 * 1024 * 1024),
  };
  if (out.accessControl === 'NODE-MULTIPLE') out.maxNodeMultiple = integer(k, 'maxNodeMultiple', 1, 1000);
  if ((out.accessControl === 'USER-NODE-MATCH' || out.accessControl === 'NODE-ID-MATCH') && out.dataModel !== 'dictionary') fail(`${at}.accessControl`, `${out.accessControl} needs the dictionary data model`);
  return out;
}

/** A nested object of integer settings, each with its range; errors name "section.field". */
function integerSection<T extends { [K in keyof T]: number }>(doc: Json, name: string, ranges: Record<keyof T, readonly [number, number]>, defaults: T): T {
  const raw = doc[name] ?? {};
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) fail(name, 'must be an object');
  knownFieldsOnly(raw as Json, name, Object.keys(ranges));
  const out = {} as Record<string, number>;
  for (const [field, [min, max]] of Object.entries(ranges) as [string, readonly [number, number]][]) {
    try {
      out[field] = integer(raw as Json, field, min, max, defaults[field as keyof T]);
    } catch (e) {
      throw new ConfigError((e as Error).message.replace(`"${field}"`, `"${name}.${field}"`));
    }
  }
  return out as T;
}

const STORAGE_RANGES = {
  replicas: [1, 16],
  maxBytes: [1024, Number.MAX_SAFE_INTEGER],
  defaultLifetimeSec: [1, 0xffffffff],
  syncIntervalMs: [50, 3_600_000],
} as const satisfies Record<keyof StorageConfig, readonly [number, number]>;

const LINK_LIMIT_RANGES = {
  maxPerNode: [1, 16],
  handshakeTimeoutMs: [100, 600_000],
  maxPendingHandshakes: [1, 100_000],
  greetingTimeoutMs: [100, 600_000],
  maxApplicationLinks: [1, 100_000],
  maxApplicationLinksPerNode: [1, 100_000],
  reachabilityPeers: [0, 16],
  reachabilityIntervalMs: [0, 86_400_000],
  traversalTimeoutMs: [100, 120_000],
  dialBackTimeoutMs: [100, 120_000],
  maxDialBacks: [1, 1024],
  punchSpraySockets: [0, 4096],
  relayCircuits: [0, 100_000],
  relayReservations: [0, 100_000],
  relayCircuitBytes: [1024, 2 ** 40],
  relayCircuitMs: [1000, 86_400_000],
  relayPort: [0, 65535],
} as const satisfies Record<keyof LinkLimitsConfig, readonly [number, number]>;

/** Validates a parsed JSON document; throws ConfigError naming the first bad field. */
export function parseOverlayConfig(doc: unknown): OverlayConfig {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError('overlay config: the document must be a JSON object');
  const d = doc as Json;
  knownFieldsOnly(d, '', TOP_FIELDS);
  if (typeof d.overlay !== 'string' || !OVERLAY_NAME.test(d.overlay)) fail('overlay', 'must be an overlay name such as "example.org" (letters, digits, dots, dashes)');
  if (!Array.isArray(d.rootCerts) || d.rootCerts.length === 0) fail('rootCerts', 'must list at least one PEM root certificate');
  d.rootCerts.forEach((c, i) => {
    if (typeof c !== 'string' || !c.includes('-----BEGIN CERTIFICATE-----')) fail(`rootCerts[${i}]`, 'must be a PEM certificate');
  });
  const kindsRaw = d.kinds ?? [];
  if (!Array.isArray(kindsRaw)) fail('kinds', 'must be a list');
  const kinds = kindsRaw.map(kind);
  const seen = new Set<string>();
  for (const k of kinds) {
    for (const key of [`id:${k.id}`, `name:${k.name}`]) {
      if (seen.has(key)) fail('kinds', `declares ${key.replace(':', ' ')} twice`);
      seen.add(key);
    }
  }
  const C = CONFIG_DEFAULTS;
  const maxMessageSize = integer(d, 'maxMessageSize', 4096, 64 * 1024 * 1024, C.maxMessageSize);
  // A value the kind allows must fit in a Store request: otherwise it is refused on the wire
  // (Message_Too_Large) long after the overlay was set up, and only for the largest values.
  kinds.forEach((k, i) => {
    if (k.maxSize > maxMessageSize - VALUE_ENVELOPE_BYTES) {
      fail(`kinds[${i}].maxSize`, `is ${k.maxSize}, but values must fit a ${maxMessageSize}-byte message with ${VALUE_ENVELOPE_BYTES} bytes to spare for headers, signatures and certificates`);
    }
  });
  return {
    overlay: d.overlay,
    sequence: integer(d, 'sequence', 0, 65534, C.sequence),
    rootCerts: d.rootCerts as string[],
    topology: oneOf(d, 'topology', TOPOLOGIES, C.topology),
    hash: oneOf(d, 'hash', ID_HASHES, C.hash),
    bootstrap: bootstrapList(d),
    maxMessageSize,
    initialTtl: integer(d, 'initialTtl', 1, 255, C.initialTtl),
    requestTimeoutMs: integer(d, 'requestTimeoutMs', 200, 600_000, C.requestTimeoutMs),
    reliabilityTimerMs: integer(d, 'reliabilityTimerMs', 200, 600_000, C.reliabilityTimerMs),
    maxTransmissions: integer(d, 'maxTransmissions', 1, 10, C.maxTransmissions),
    maxOutstandingRequests: integer(d, 'maxOutstandingRequests', 1, 1_000_000, C.maxOutstandingRequests),
    maxLinks: integer(d, 'maxLinks', 1, 100_000, C.maxLinks),
    lookupPaths: integer(d, 'lookupPaths', 1, 16, C.lookupPaths),
    linkQueueLimit: integer(d, 'linkQueueLimit', 1, 1_000_000, C.linkQueueLimit),
    kinds,
    chord: integerSection<ChordConfig>(d, 'chord', CHORD_RANGES, CONFIG_DEFAULTS.chord),
    kademlia: integerSection<KademliaConfig>(d, 'kademlia', KADEMLIA_RANGES, CONFIG_DEFAULTS.kademlia),
    storage: integerSection<StorageConfig>(d, 'storage', STORAGE_RANGES, CONFIG_DEFAULTS.storage),
    links: integerSection<LinkLimitsConfig>(d, 'links', LINK_LIMIT_RANGES, CONFIG_DEFAULTS.links),
    certificateReferences: boolean(d, 'certificateReferences', C.certificateReferences),
  };
}

/** The JSON form written to disk (defaults spelled out, so users see what they can change). */
export function overlayConfigToJson(config: OverlayConfig): string {
  return JSON.stringify(
    { ...config, bootstrap: config.bootstrap.map((b) => (b.host.includes(':') ? `[${b.host}]:${b.port}` : `${b.host}:${b.port}`)) },
    null,
    2,
  ) + '\n';
}

/** A fresh configuration for a new overlay, with the defaults and the `user-value` kind. */
export function newOverlayConfig(overlay: string, rootCertPem: string): OverlayConfig {
  return parseOverlayConfig({ overlay, rootCerts: [rootCertPem], kinds: [USER_VALUE_KIND] });
}

export async function loadOverlayConfig(path: string): Promise<OverlayConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read overlay config ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`overlay config ${path} is not valid JSON: ${(e as Error).message}`);
  }
  return parseOverlayConfig(doc);
}
