/**
 * A ring of real nodes in this process, linked over mutual TLS on 127.0.0.1 (or the links a
 * MemoryNetwork makes, when given), and the ground truth
 * of a ring computed from nothing but the sorted Node-IDs. The overlay benchmark and the
 * multi-node tests both start their rings here, so that they measure and test the same thing.
 */
import { createCsr, issueNodeCertificate, type KeyAlgorithm, type RootCa } from '../certs/ca.js';
import type { SignatureScheme } from '../certs/signature-scheme.js';
import { Identity } from '../certs/identity.js';
import type { OverlayConfig } from '../overlay/config.js';
import type { Clock } from '../overlay/clock.js';
import type { Logger } from '../overlay/log.js';
import { Node, type NodeOptions } from '../overlay/node.js';

export { RingTruth } from './topology-truth.js';

/** Nodes that join at once after the first, when the caller does not say. */
export const DEFAULT_JOIN_BATCH = 4;

export interface LocalRingOptions {
  config: OverlayConfig;
  /** One identity per node to start, enrolled in `config.overlay`; the first one starts the ring. */
  identities: Identity[];
  /** Nodes joining at the same time, each through the first node (default DEFAULT_JOIN_BATCH). */
  batch?: number;
  /** Identities for nodes added later with `add()`; without it `add()` throws. */
  enroll?: () => Promise<Identity>;
  /** A logger for the i-th node started (default: silent). */
  logger?: (index: number) => Logger | undefined;
  /** Called with each node before it starts: attach usages here (their kinds and handlers). */
  beforeStart?: (node: Node, index: number) => void;
  /** Called when a node has joined, with the time its start() took, ms. */
  onJoined?: (node: Node, joinMs: number) => void;
  /** How the nodes make links (default TLS on 127.0.0.1). */
  links?: NodeOptions['links'];
  /** The nodes' clock (default the system's). */
  clock?: Clock;
}

export interface LocalRing {
  config: OverlayConfig;
  /** The nodes started so far, in start order. */
  nodes: Node[];
  /** Starts one more node bootstrapping from `via` (default: the first node), as `identity` (default: a new one). */
  add(via?: Node, identity?: Identity): Promise<Node>;
  /** Stops every node still running: a crash when `leave` is false. */
  stopAll(leave?: boolean): Promise<void>;
}

/** The port a started node listens on. */
export function portOf(n: Node): number {
  return Number(/:(\d+)$/.exec(n.listenAddress!)![1]);
}

/**
 * A key and a certificate for `user` signed by `ca`, in memory (no files). `key` picks the key
 * type, `nodeIdHex` the Node-ID (default the CA's random choice), `signatures` a stand-in signer.
 */
export async function enrollInMemory(
  ca: RootCa,
  overlay: string,
  user: string,
  opts: { key?: KeyAlgorithm; nodeIdHex?: string; signatures?: SignatureScheme } = {},
): Promise<Identity> {
  const { keyPem, csrPem } = await createCsr(user, opts.key);
  const { certPem } = issueNodeCertificate(ca, csrPem, { overlay, user, ...(opts.nodeIdHex ? { nodeIdHex: opts.nodeIdHex } : {}) });
  return new Identity(keyPem, certPem + ca.certPem, opts.signatures);
}

/**
 * Starts `identities.length` nodes on 127.0.0.1 (free ports): the first starts a new overlay, the
 * others join through it `batch` at a time. On a failure every node started is stopped.
 */
export async function startLocalRing(opts: LocalRingOptions): Promise<LocalRing> {
  const { config } = opts;
  const nodes: Node[] = [];
  const add = async (identity: Identity, via?: Node): Promise<Node> => {
    const boot = via ?? nodes[0];
    const n = new Node({
      config,
      identity,
      listen: { host: '127.0.0.1', port: 0 },
      bootstrap: boot ? [{ host: '127.0.0.1', port: portOf(boot) }] : [],
      logger: opts.logger?.(nodes.length),
      ...(opts.links ? { links: opts.links } : {}),
      ...(opts.clock ? { clock: opts.clock } : {}),
    });
    opts.beforeStart?.(n, nodes.length);
    nodes.push(n);
    const started = performance.now();
    await n.start();
    opts.onJoined?.(n, performance.now() - started);
    return n;
  };
  const ring: LocalRing = {
    config,
    nodes,
    add: async (via, identity) => {
      if (identity) return add(identity, via);
      if (!opts.enroll) throw new Error('this ring was started without an enroll function');
      return add(await opts.enroll(), via);
    },
    stopAll: async (leave = false) => {
      await Promise.all(nodes.map((n) => n.stop({ leave })));
    },
  };
  const [first, ...rest] = opts.identities;
  if (!first) return ring;
  const batch = opts.batch ?? DEFAULT_JOIN_BATCH;
  try {
    await add(first);
    for (let i = 0; i < rest.length; i += batch) {
      await Promise.all(rest.slice(i, i + batch).map((id) => add(id, nodes[0])));
    }
  } catch (e) {
    await ring.stopAll();
    throw e;
  }
  return ring;
}
