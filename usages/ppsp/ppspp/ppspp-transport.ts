/**
 * A node's `ppspp` transport (seed §4.5): one UDP socket from which it dials its peers' PPSPP
 * channels and on which it answers theirs, each channel a PpsppLink carrying a session of one of
 * our swarms. The socket's address is what transport negotiation offers, so a peer's HANDSHAKE
 * comes from the address it told us over the overlay, signed: that is how an answered channel
 * knows the peer's Node-ID. A HANDSHAKE from an address no peer of that swarm told us, or one that
 * does not speak our frames, gets no answer.
 */
import { silentLogger, systemClock, type Clock, type Link, type Logger, type Timer } from '../../../overlay/index.js';
import { SWARM_ID_HEX_LENGTH } from '../content/swarm-id.js';
import { FRAME_PART_TYPE } from './ppspp-context.js';
import type { DecodedDatagram } from './ppspp-datagram.js';
import { PpsppEndpoint, type UdpAddress } from './ppspp-endpoint.js';
import { DEFAULT_LINK_TIMERS, PpsppLink, type PpsppLinkTimers } from './ppspp-link.js';
import { findOption } from './ppspp-options.js';
import { hostPort } from './ppspp-service.js';

/** The transport's address cannot be bound: the user's to change, so its message is for them. */
export class PpsppBindError extends Error {
  override name = 'PpsppBindError';
}

export interface PpsppTransportOptions {
  /** An IP address to bind. */
  host: string;
  /** 0: any free port. */
  port: number;
  /** The Node-ID (hex) of the peer of swarm `swarmId` that told us it is at `address`; undefined if none did. */
  identify(swarmId: string, address: string): string | undefined;
  /** A channel a peer opened to us. */
  onLink(link: Link): void;
  /** Chunks a link queues for LEDBAT's window at most (default 256). */
  queueLimit?: number;
  /** LEDBAT's largest window per link, bytes (default 4 MiB). */
  maxWindowBytes?: number;
  /** Channels open at once at most (default the endpoint's, 256). */
  maxChannels?: number;
  timers?: Partial<PpsppLinkTimers>;
  /** How often the links' timers run, ms (default 50). */
  tickMs?: number;
  clock?: Clock;
  log?: Logger;
}

export class PpsppTransport {
  private readonly links = new Set<PpsppLink>();
  /** Answered channels by the peer's address and channel, so a HANDSHAKE sent again finds its link. */
  private readonly answered = new Map<string, PpsppLink>();
  /** HANDSHAKEs that got no answer: an unknown swarm or address, or not our frames. */
  refused = 0;
  private readonly timer: Timer;
  private readonly clock: Clock;
  private readonly log: Logger;

  private constructor(
    private readonly endpoint: PpsppEndpoint,
    private readonly options: PpsppTransportOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? silentLogger;
    endpoint.onOpen = (datagram, from) => this.onOpen(datagram, from);
    this.timer = this.clock.every(options.tickMs ?? 50, () => {
      for (const link of [...this.links]) link.tick();
    });
  }

  static async open(options: PpsppTransportOptions): Promise<PpsppTransport> {
    const endpoint = await PpsppEndpoint.bind(options.host, options.port, { log: options.log, ...(options.maxChannels ? { maxChannels: options.maxChannels } : {}) }).catch((e: NodeJS.ErrnoException) => {
      const why = e.code === 'EADDRINUSE' ? 'the port is taken: pick another, or 0 for any free one' : e.code === 'EADDRNOTAVAIL' ? 'no interface of this machine has that address' : e.message;
      throw new PpsppBindError(`cannot listen for the ppspp transport on ${hostPort(options)}: ${why}`);
    });
    return new PpsppTransport(endpoint, options);
  }

  /** host:port the socket is bound to: what negotiation offers. */
  get address(): string {
    return hostPort(this.endpoint.address());
  }

  get channelCount(): number {
    return this.links.size;
  }

  /** Opens a channel to the peer `nodeIdHex` at `address` for `swarmId`; resolves once it answered. */
  async dial(nodeIdHex: string, address: UdpAddress, swarmId: string): Promise<Link> {
    const link = this.link(nodeIdHex, address, { dialler: true, swarmId });
    if (!link) throw new Error(`${this.endpoint.channelCount} PPSPP channels are open already`);
    link.start();
    await link.answered;
    return link;
  }

  async close(): Promise<void> {
    this.timer.cancel();
    for (const link of [...this.links]) link.close();
    await this.endpoint.close();
  }

  private onOpen(datagram: DecodedDatagram, from: UdpAddress): void {
    const hello = datagram.messages[0];
    if (hello?.type !== 'handshake' || hello.sourceChannel === 0) return;
    const again = this.answered.get(channelKey(from, hello.sourceChannel));
    if (again) return again.receive(datagram);
    const swarmId = findOption(hello.options, 'swarmId');
    const swarm = swarmId && swarmId.length * 2 === SWARM_ID_HEX_LENGTH ? Buffer.from(swarmId).toString('hex') : undefined;
    const peer = swarm && findOption(hello.options, 'supportedMessages')?.includes(FRAME_PART_TYPE) ? this.options.identify(swarm, hostPort(from)) : undefined;
    if (!peer) {
      this.refused++;
      this.log.debug(`ppspp: no answer to a HANDSHAKE from ${hostPort(from)}: not a peer of ours in that swarm`);
      return;
    }
    const link = this.link(peer, from, { dialler: false, theirId: hello.sourceChannel, context: datagram.context });
    if (!link) return;
    const key = channelKey(from, hello.sourceChannel);
    this.answered.set(key, link);
    link.once('close', () => this.answered.delete(key));
    this.options.onLink(link);
    link.receive(datagram);
  }

  private link(nodeIdHex: string, peer: UdpAddress, role: ConstructorParameters<typeof PpsppLink>[1]): PpsppLink | undefined {
    const link = new PpsppLink(
      {
        endpoint: this.endpoint,
        peer,
        remoteNodeIdHex: nodeIdHex,
        queueLimit: this.options.queueLimit ?? 256,
        maxWindowBytes: this.options.maxWindowBytes ?? 4 * 1024 * 1024,
        timers: { ...DEFAULT_LINK_TIMERS, ...this.options.timers },
        clock: this.clock,
        log: this.log,
        onClosed: (closed) => {
          this.links.delete(closed);
          this.endpoint.closeChannel(closed.ourId);
        },
      },
      role,
    );
    const id = this.endpoint.openChannel(link);
    if (id === undefined) return undefined;
    link.ourId = id;
    this.links.add(link);
    return link;
  }
}

function channelKey(from: UdpAddress, channel: number): string {
  return `${hostPort(from)}|${channel}`;
}
