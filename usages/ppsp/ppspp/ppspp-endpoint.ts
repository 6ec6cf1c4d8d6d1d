/**
 * One UDP socket speaking PPSPP (RFC 7574 §8): datagrams go to the channel their first four bytes
 * name. Channel 0 opens a channel (§8.4: a HANDSHAKE to a peer we have no channel with); every
 * other channel is one we allocated, and a datagram for it is taken only from that channel's peer.
 *
 * UDP has no one to answer a bad datagram to safely, so one that does not decode, or names a
 * channel we do not have, is dropped and counted (`stats`), never thrown.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { randomInt } from 'node:crypto';
import { isReloadError, silentLogger, type Logger } from '../../../overlay/index.js';
import { decodeDatagram, encodeDatagram, type DecodedDatagram } from './ppspp-datagram.js';
import { DEFAULT_PPSPP_CONTEXT, type PpsppContext } from './ppspp-context.js';
import type { PpsppMessage } from './ppspp-messages.js';

export interface UdpAddress {
  host: string;
  port: number;
}

/** One end of a channel: what it decodes with and where its datagrams go. */
export interface ChannelHandler {
  /** The peer whose datagrams this channel takes. */
  readonly peer: UdpAddress;
  /** The context the peer's datagrams are decoded against (its HANDSHAKE options). */
  remoteContext: PpsppContext;
  receive(datagram: DecodedDatagram): void;
}

export interface EndpointStats {
  received: number;
  sent: number;
  /** Datagrams that did not decode. */
  malformed: number;
  /** Datagrams for a channel we do not have, or from another address than its peer's. */
  strays: number;
  /** Datagrams that decoded but that their channel refused. */
  refused: number;
  /** Datagrams the socket refused to send (e.g. an unreachable address). */
  sendErrors: number;
}

export interface EndpointOptions {
  /** Channels open at once at most (each holds a peer's state). */
  maxChannels?: number;
  log?: Logger;
}

export const DEFAULT_MAX_CHANNELS = 256;
/** Socket buffers asked for, each way. */
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

export class PpsppEndpoint {
  readonly stats: EndpointStats = { received: 0, sent: 0, malformed: 0, strays: 0, refused: 0, sendErrors: 0 };
  private readonly channels = new Map<number, ChannelHandler>();
  /** Datagrams to channel 0: a peer opening a channel. Unset, they are strays. */
  onOpen: ((datagram: DecodedDatagram, from: UdpAddress) => void) | undefined;
  private readonly maxChannels: number;
  private readonly log: Logger;

  private constructor(
    private readonly socket: Socket,
    options: EndpointOptions,
  ) {
    this.maxChannels = options.maxChannels ?? DEFAULT_MAX_CHANNELS;
    this.log = options.log ?? silentLogger;
    socket.on('message', (bytes, from) => this.receive(bytes, from));
    socket.on('error', (e) => this.log.warn(`ppspp socket: ${e.message}`));
  }

  /** Binds a UDP socket on `host` (an IP address) and `port` (0: any free port). */
  static async bind(host: string, port: number, options: EndpointOptions = {}): Promise<PpsppEndpoint> {
    const family = isIP(host);
    if (family === 0) throw new Error(`ppspp: ${JSON.stringify(host)} is not an IP address to listen on`);
    const socket = createSocket(family === 6 ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    // The default buffers (about 200 KiB) hold a dozen 16 KiB datagrams: a LEDBAT window on a fast
    // path overflows them. The kernel caps what we ask at its own limit (net.core.rmem_max).
    for (const set of [(n: number) => socket.setRecvBufferSize(n), (n: number) => socket.setSendBufferSize(n)]) {
      try {
        set(SOCKET_BUFFER_BYTES);
      } catch {
        // Refused outright on some systems: the default buffer still works, only smaller.
      }
    }
    return new PpsppEndpoint(socket, options);
  }

  address(): UdpAddress {
    const a = this.socket.address();
    return { host: a.address, port: a.port };
  }

  get channelCount(): number {
    return this.channels.size;
  }

  /** Allocates a channel ID for `handler` (random, never 0), or undefined when all channels are taken. */
  openChannel(handler: ChannelHandler): number | undefined {
    if (this.channels.size >= this.maxChannels) return undefined;
    for (;;) {
      const id = randomInt(1, 2 ** 32 - 1);
      if (!this.channels.has(id)) {
        this.channels.set(id, handler);
        return id;
      }
    }
  }

  closeChannel(id: number): void {
    this.channels.delete(id);
  }

  /** Sends `messages` to `peer`'s channel `channel`, encoded against `context` (our own options). */
  send(peer: UdpAddress, channel: number, messages: readonly PpsppMessage[], context: PpsppContext = DEFAULT_PPSPP_CONTEXT): number {
    const bytes = encodeDatagram(channel, messages, context);
    this.socket.send(bytes, peer.port, peer.host, (e) => {
      if (e) {
        this.stats.sendErrors++;
        this.log.debug(`ppspp send to ${peer.host}:${peer.port}: ${e.message}`);
      }
    });
    this.stats.sent++;
    return bytes.length;
  }

  close(): Promise<void> {
    this.channels.clear();
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }

  private receive(bytes: Buffer, from: RemoteInfo): void {
    this.stats.received++;
    const peer = { host: from.address, port: from.port };
    if (bytes.length < 4) {
      this.stats.malformed++;
      return;
    }
    const channel = bytes.readUInt32BE(0);
    const handler = this.channels.get(channel);
    if (channel !== 0 && (!handler || handler.peer.port !== peer.port || handler.peer.host !== peer.host)) {
      this.stats.strays++;
      return;
    }
    let datagram: DecodedDatagram;
    try {
      datagram = decodeDatagram(bytes, handler?.remoteContext ?? DEFAULT_PPSPP_CONTEXT);
    } catch (e) {
      if (!isReloadError(e)) throw e;
      this.stats.malformed++;
      this.log.debug(`ppspp datagram from ${peer.host}:${peer.port} dropped: ${e.message}`);
      return;
    }
    try {
      if (handler) {
        handler.remoteContext = datagram.context;
        handler.receive(datagram);
      } else if (this.onOpen) this.onOpen(datagram, peer);
      else this.stats.strays++;
    } catch (e) {
      // A message its channel refuses (a chunk outside the content, a hash of the wrong length).
      if (!isReloadError(e)) throw e;
      this.stats.refused++;
      this.log.debug(`ppspp datagram from ${peer.host}:${peer.port} refused: ${e.message}`);
    }
  }
}
