/**
 * An in-process network for tests and simulation: nodes listen at "host:port" addresses and dial
 * each other's, as over TCP, and get MemoryLinks whose delay, bandwidth and loss come from a model
 * of the path between the two addresses. Both ends check each other's certificate with their own
 * TrustStore at their own clock's time, as a TLS handshake would, so an untrusted or mismatched
 * peer is refused the same way; only the sockets and the encryption are left out.
 */
import type { Clock } from '../clock.js';
import type { Link } from './link.js';
import type { DialOptions, LinkEndpoint, LinkFactory, LinkListener, ListenOptions } from './link-factory.js';
import { memoryLinkPair } from './memory-link.js';
import { seededRandom, type Random } from '../random.js';
import { authenticatePeer } from './tls-options.js';

/** The path between two addresses. */
export interface PathModel {
  /** One-way delay, ms. */
  latencyMs: number;
  /** Bits per second each way; undefined: no limit. */
  bandwidthBps?: number;
  /** Probability in [0, 1) that a message is lost. */
  lossRate?: number;
}

export interface MemoryNetworkOptions {
  clock: Clock;
  /** The path between a dialler's and a listener's address; default 0 ms, no limit, no loss. */
  path?: (from: string, to: string) => PathModel;
  /** Draws for loss; default seededRandom(1), so runs repeat. */
  random?: Random;
}


interface Bound {
  endpoint: LinkEndpoint;
  opts: ListenOptions;
  links: Set<Link>;
}

/**
 * Holds `link` among the listener's links until it closes. A function of its own, so that the close
 * listener keeps only these two alive, not every variable of the dial it was made in.
 */
function track(bound: Bound, link: Link): void {
  bound.links.add(link);
  link.once('close', () => bound.links.delete(link));
}

/** The first port `listen` hands out for port 0, as an ephemeral range would. */
const FIRST_EPHEMERAL_PORT = 32768;

export class MemoryNetwork {
  private readonly listeners = new Map<string, Bound>();
  private readonly nextPort = new Map<string, number>();
  private readonly random: Random;

  constructor(private readonly opts: MemoryNetworkOptions) {
    this.random = opts.random ?? seededRandom(1);
  }

  /** Addresses listened on now. */
  get addresses(): string[] {
    return [...this.listeners.keys()];
  }

  /** The link factory of one node. */
  linksFor = (endpoint: LinkEndpoint): LinkFactory => {
    // Where its dials come from, for the path model: the address of its first listener.
    let from: string | undefined;
    return {
      listen: async (opts) => {
        const listener = this.listen(endpoint, opts);
        from ??= `${listener.address.host}:${listener.address.port}`;
        return listener;
      },
      dial: (opts) => this.dial(endpoint, from ?? `${endpoint.identity.nodeIdHex}:0`, opts),
    };
  };

  private listen(endpoint: LinkEndpoint, opts: ListenOptions): LinkListener {
    let port = opts.port;
    if (port === 0) {
      port = this.nextPort.get(opts.host) ?? FIRST_EPHEMERAL_PORT;
      while (this.listeners.has(`${opts.host}:${port}`)) port++;
      this.nextPort.set(opts.host, port + 1);
    }
    const key = `${opts.host}:${port}`;
    if (this.listeners.has(key)) throw Object.assign(new Error(`listen EADDRINUSE: address already in use ${key}`), { code: 'EADDRINUSE' });
    const bound: Bound = { endpoint, opts, links: new Set() };
    this.listeners.set(key, bound);
    return {
      address: { host: opts.host, port },
      close: async () => {
        if (this.listeners.get(key) === bound) this.listeners.delete(key);
        for (const link of [...bound.links]) link.close();
      },
    };
  }

  /**
   * Resolves after a round trip of the path, as a TCP and TLS 1.3 handshake would take about;
   * the listener has the link half a round trip earlier.
   */
  private dial(endpoint: LinkEndpoint, from: string, opts: DialOptions): Promise<Link> {
    const to = `${opts.host}:${opts.port}`;
    const clock = this.opts.clock;
    const path = this.opts.path?.(from, to) ?? { latencyMs: 0 };
    return new Promise<Link>((resolve, reject) => {
      // A dial that timed out leaves nothing behind: no link at the listener, none half-open here.
      let timedOut = false;
      const timeout = clock.after(opts.timeoutMs, () => {
        timedOut = true;
        reject(Object.assign(new Error(`cannot reach ${to}: connect timed out`), { code: 'ETIMEDOUT' }));
      });
      clock.after(path.latencyMs, () => {
        if (timedOut) return;
        const bound = this.listeners.get(to);
        if (!bound) {
          timeout.cancel();
          return clock.after(path.latencyMs, () => reject(Object.assign(new Error(`cannot reach ${to}: ECONNREFUSED`), { code: 'ECONNREFUSED' })));
        }
        const remote = bound.endpoint;
        try {
          // Each side judges the other's certificate, with its own trust and time.
          authenticatePeer(endpoint.identity.certDer, remote.trust, remote.clock.now());
        } catch (e) {
          bound.opts.onRefused?.(from, e as Error);
          timeout.cancel();
          return clock.after(path.latencyMs, () => reject(new Error(`link to ${to} closed by the peer during the handshake`)));
        }
        const [here, there] = memoryLinkPair(
          { nodeId: endpoint.identity.nodeId, user: endpoint.identity.user, certDer: endpoint.identity.certDer, address: from },
          { nodeId: remote.identity.nodeId, user: remote.identity.user, certDer: remote.identity.certDer, address: to },
          { clock, latencyMs: path.latencyMs, bandwidthBps: path.bandwidthBps, lossRate: path.lossRate ?? 0, random: this.random.next, queueLimit: opts.queueLimit },
        );
        track(bound, there);
        // The dialler's side is due first: whatever the listener sends at once arrives on a link
        // the dialler already holds, as after a TLS handshake (timers due together run in order).
        clock.after(path.latencyMs, () => {
          if (timedOut) return here.close();
          timeout.cancel();
          try {
            authenticatePeer(remote.identity.certDer, endpoint.trust, endpoint.clock.now(), opts.expectedNodeId);
          } catch (e) {
            here.close(e as Error);
            return reject(e);
          }
          resolve(here);
        });
        bound.opts.onLink(there);
      });
    });
  }
}
