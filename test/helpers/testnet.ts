/**
 * A testnet of real nodes in this process, linked over real TLS on 127.0.0.1, plus the ground
 * truth of a ring computed from nothing but the sorted Node-IDs, to check the nodes against.
 */
import { newOverlayConfig, type OverlayConfig } from '../../overlay/config.js';
import { idToHex, ringDistance, type Id } from '../../overlay/id.js';
import { createLogger, stderrSink } from '../../overlay/log.js';
import { Node } from '../../overlay/node.js';
import { sharedPki, TEST_OVERLAY } from './pki.js';

export interface Testnet {
  config: OverlayConfig;
  nodes: Node[];
  /** Starts one more node bootstrapping from `via` (default: the first node). */
  add(via?: Node): Promise<Node>;
  /** Stops every node still running: a crash when `leave` is false. */
  stopAll(leave?: boolean): Promise<void>;
}

export function portOf(n: Node): number {
  return Number(/:(\d+)$/.exec(n.listenAddress!)![1]);
}

/** Settings that make maintenance fast enough for tests (production defaults are slower). */
export const FAST_CHORD = { updateIntervalMs: 500, fingerIntervalMs: 1000, neighbourTimeoutMs: 2000 };

export async function startTestnet(count: number, opts: { batch?: number; chord?: Partial<OverlayConfig['chord']> } = {}): Promise<Testnet> {
  const pki = await sharedPki();
  const base = newOverlayConfig(TEST_OVERLAY, pki.ca.certPem);
  const config: OverlayConfig = { ...base, chord: { ...base.chord, ...FAST_CHORD, ...opts.chord } };
  const identities = await Promise.all(Array.from({ length: count }, () => pki.enroll()));
  const nodes: Node[] = [];
  const add = async (via?: Node, identity?: Awaited<ReturnType<typeof pki.enroll>>) => {
    const boot = via ?? nodes[0];
    const n = new Node({
      config,
      identity: identity ?? (await pki.enroll()),
      listen: { host: '127.0.0.1', port: 0 },
      bootstrap: boot ? [{ host: '127.0.0.1', port: portOf(boot) }] : [],
      logger: process.env.TESTNET_TRACE ? createLogger(`n${nodes.length}`, stderrSink, 'debug') : undefined,
    });
    nodes.push(n);
    const t = Date.now();
    await n.start();
    if (process.env.TESTNET_TRACE) console.log(`${n.nodeIdHex.slice(0, 8)} joined in ${Date.now() - t} ms`);
    return n;
  };
  const net: Testnet = {
    config,
    nodes,
    add: (via) => add(via),
    stopAll: async (leave = false) => {
      await Promise.all(nodes.map((n) => n.stop({ leave })));
    },
  };
  try {
    await add(undefined, identities[0]);
    const batch = opts.batch ?? 4;
    for (let i = 1; i < count; i += batch) {
      await Promise.all(identities.slice(i, i + batch).map((id) => add(nodes[0], id)));
    }
  } catch (e) {
    await net.stopAll();
    throw e;
  }
  return net;
}

/** The ring as ground truth: who follows whom, who owns what, from the Node-IDs alone. */
export class RingTruth {
  private readonly sorted: Id[];
  constructor(ids: Id[]) {
    this.sorted = [...ids].sort((a, b) => (ringDistance(new Uint8Array(16) as Id, a) < ringDistance(new Uint8Array(16) as Id, b) ? -1 : 1));
  }

  private indexOf(id: Id): number {
    return this.sorted.findIndex((x) => idToHex(x) === idToHex(id));
  }

  /** The k nodes after `id` clockwise (hex), not counting itself. */
  successors(id: Id, k: number): string[] {
    const i = this.indexOf(id);
    const n = this.sorted.length;
    return Array.from({ length: Math.min(k, n - 1) }, (_, j) => idToHex(this.sorted[(i + 1 + j) % n]!));
  }

  predecessors(id: Id, k: number): string[] {
    const i = this.indexOf(id);
    const n = this.sorted.length;
    return Array.from({ length: Math.min(k, n - 1) }, (_, j) => idToHex(this.sorted[(i - 1 - j + n * 2) % n]!));
  }

  /** The node responsible for a key: the first at or after it (RFC 6940 §10.1). */
  responsible(key: Id): string {
    let best = this.sorted[0]!;
    let bestDist: bigint | undefined;
    for (const id of this.sorted) {
      const d = ringDistance(key, id);
      if (bestDist === undefined || d < bestDist) {
        best = id;
        bestDist = d;
      }
    }
    return idToHex(best);
  }
}
