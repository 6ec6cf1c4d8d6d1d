/**
 * A testnet of real nodes in this process, linked over real TLS on 127.0.0.1 or over in-process
 * memory links (the shared
 * scripts/local-ring.ts), with the test PKI and maintenance intervals short enough for tests.
 * RingTruth, the ground truth computed from the sorted Node-IDs, comes from there too.
 */
import { systemClock, VirtualClock, type Clock } from '../../overlay/clock.js';
import { newOverlayConfig, type OverlayConfig, type TopologyName } from '../../overlay/config.js';
import type { LinkEndpoint, LinkFactory } from '../../overlay/link/link-factory.js';
import { MemoryNetwork } from '../../overlay/link/memory-network.js';
import { createLogger, stderrSink } from '../../overlay/log.js';
import type { Identity } from '../../certs/identity.js';
import type { Node } from '../../overlay/node.js';
import { startLocalRing, type LocalRing } from '../../scripts/local-ring.js';
import { sharedPki, TEST_OVERLAY } from './pki.js';

export { portOf, RingTruth } from '../../scripts/local-ring.js';

export type Testnet = LocalRing;

/** Settings that make maintenance fast enough for tests (production defaults are slower). */
export const FAST_CHORD = { updateIntervalMs: 500, fingerIntervalMs: 1000, neighbourTimeoutMs: 2000 };
export const FAST_KADEMLIA = { updateIntervalMs: 500, refreshIntervalMs: 5000, neighbourTimeoutMs: 2000 };
export const FAST_STORAGE = { syncIntervalMs: 500 };

export interface TestnetOptions {
  batch?: number;
  /** The topology plugin (default the configuration's, CHORD-RELOAD). */
  topology?: TopologyName;
  chord?: Partial<OverlayConfig['chord']>;
  kademlia?: Partial<OverlayConfig['kademlia']>;
  storage?: Partial<OverlayConfig['storage']>;
  /** Kinds besides the configuration's default ones. */
  kinds?: OverlayConfig['kinds'];
  certificateReferences?: boolean;
  /** Routes a lookup takes at once (config `lookupPaths`). */
  lookupPaths?: number;
  /** Called with each node before it starts (attach usages here). */
  beforeStart?: (node: Node, index: number) => void;
  /** Real TLS on 127.0.0.1 (default), or in-process links of a MemoryNetwork (1 ms each way). */
  transport?: Transport;
  /** The nodes' (and the memory network's) clock; default the system's. */
  clock?: Clock;
  /** One-way delay of memory links, ms (default 1). */
  latencyMs?: number;
  /** Changes each node's links (memory transport), e.g. to make some of them misbehave. */
  wrapLinks?: (links: LinkFactory, endpoint: LinkEndpoint) => LinkFactory;
  /** Identities enrolled beforehand (on a virtual clock, key generation must not run while time does). */
  identities?: Identity[];
}

export type Transport = 'tls' | 'memory';

/** Both transports, for tests that run their assertions over each. */
export const TRANSPORTS: Transport[] = ['tls', 'memory'];

/** Set TESTNET_TRACE=1 for each node's debug log on stderr and its join time on stdout. */
const TRACE = Boolean(process.env.TESTNET_TRACE);

export async function startTestnet(count: number, opts: TestnetOptions = {}): Promise<Testnet> {
  const pki = await sharedPki();
  const base = newOverlayConfig(TEST_OVERLAY, pki.ca.certPem);
  const config: OverlayConfig = {
    ...base,
    topology: opts.topology ?? base.topology,
    chord: { ...base.chord, ...FAST_CHORD, ...opts.chord },
    kademlia: { ...base.kademlia, ...FAST_KADEMLIA, ...opts.kademlia },
    storage: { ...base.storage, ...FAST_STORAGE, ...opts.storage },
    kinds: [...base.kinds, ...(opts.kinds ?? [])],
    certificateReferences: opts.certificateReferences ?? base.certificateReferences,
    lookupPaths: opts.lookupPaths ?? base.lookupPaths,
  };
  const identities = opts.identities ?? (await Promise.all(Array.from({ length: count }, () => pki.enroll())));
  const ring = await startLocalRing({
    config,
    identities,
    batch: opts.batch,
    enroll: () => pki.enroll(),
    beforeStart: opts.beforeStart,
    ...(opts.transport === 'memory' ? { links: memoryLinks(opts) } : {}),
    ...(opts.clock ? { clock: opts.clock } : {}),
    logger: TRACE ? (i) => createLogger(`n${i}`, stderrSink, 'debug') : undefined,
    onJoined: TRACE ? (n, ms) => console.log(`${n.nodeIdHex.slice(0, 8)} joined in ${Math.round(ms)} ms`) : undefined,
  });
  // A fault inside a node (a throw that is not a typed refusal) is answered to the peer and would
  // pass unseen: every test that stops its testnet fails on one.
  const stopAll = ring.stopAll;
  ring.stopAll = async (leave) => {
    await stopAll(leave);
    const faulty = ring.nodes.filter((n) => n.metrics.faultCount() > 0);
    if (faulty.length > 0) throw new Error(`internal faults in ${faulty.map((n) => `${n.nodeIdHex.slice(0, 8)} (${n.metrics.faultCount()})`).join(', ')}: see reload_internal_faults_total; run with TESTNET_TRACE=1 for their stacks`);
  };
  return ring;
}

function memoryLinks(opts: TestnetOptions): (endpoint: LinkEndpoint) => LinkFactory {
  const network = new MemoryNetwork({ clock: opts.clock ?? systemClock, path: () => ({ latencyMs: opts.latencyMs ?? 1 }) });
  const wrap = opts.wrapLinks;
  return wrap ? (endpoint) => wrap(network.linksFor(endpoint), endpoint) : network.linksFor;
}

/** A testnet on memory links and a VirtualClock of its own, with `spares` identities for nodes added later. */
export interface VirtualTestnet {
  clock: VirtualClock;
  net: Testnet;
  spares: Identity[];
}

/**
 * `count` nodes over memory links (20 ms each way unless `latencyMs` says otherwise) on a new
 * VirtualClock. Every identity, spares included, is enrolled first and the clock started after:
 * key generation must not run while virtual time does, and the certificates must be valid at the
 * clock's time.
 */
export async function startVirtualTestnet(count: number, opts: Omit<TestnetOptions, 'transport' | 'clock' | 'identities'> & { spares?: number } = {}): Promise<VirtualTestnet> {
  const pki = await sharedPki();
  const identities = await Promise.all(Array.from({ length: count + (opts.spares ?? 0) }, () => pki.enroll()));
  const clock = new VirtualClock(Date.now());
  const net = await clock.until(startTestnet(count, { batch: 4, latencyMs: 20, ...opts, transport: 'memory', clock, identities: identities.slice(0, count) }), 120_000);
  return { clock, net, spares: identities.slice(count) };
}
