/**
 * The live channels a node broadcasts or watches: each one a LiveSwarm, announced in the same
 * tracker kind as files (its entry says `live`), reached over the same data channel. Watching a
 * swarm ID starts a viewer only if the tracker says it is a live channel.
 */
import { ErrorCode, type Node, ReloadError } from '../../../overlay/index.js';
import type { PpspDataUsage } from '../data/ppsp-data-usage.js';
import type { PeerRef } from '../data/swarm-options.js';
import type { PpspSignallingUsage } from '../signalling/ppsp-signalling-usage.js';
import { DEFAULT_CHUNK_SIZE, parseSwarmId } from '../content/swarm-id.js';
import { DEFAULT_WINDOW_CHUNKS, newLiveDescriptor } from './live-descriptor.js';
import { type LiveContext, LiveSwarm, type LiveSwarmOptions } from './live-swarm.js';
import type { LiveSessionHost } from './live-session.js';

/** Live channels a node holds at most (broadcast and watched). */
export const MAX_LIVE_CHANNELS = 64;

export interface BroadcastOptions {
  name: string;
  /** Default video/mp2t: MPEG-TS survives a viewer joining mid-stream. */
  mediaType?: string;
  chunkSize?: number;
  windowChunks?: number;
}

export class LiveChannels {
  private readonly swarms = new Map<string, LiveSwarm>();

  constructor(
    private readonly node: () => Node,
    private readonly data: PpspDataUsage,
    private readonly signalling: PpspSignallingUsage,
    private readonly peers: (swarmId: string) => Promise<PeerRef[]>,
    private readonly options: LiveSwarmOptions = {},
  ) {
    data.setLiveHosts((swarmId, peer) => this.hostFor(swarmId, peer));
  }

  get(swarmId: string): LiveSwarm | undefined {
    return this.swarms.get(swarmId);
  }

  list(): LiveSwarm[] {
    return [...this.swarms.values()];
  }

  /** Starts a channel sourced here; write its input with `write` and end it with `endInput`. */
  async broadcast(opts: BroadcastOptions): Promise<LiveSwarm> {
    this.checkRoom();
    const node = this.node();
    const descriptor = newLiveDescriptor(node.identity.certDer, {
      name: opts.name,
      mediaType: opts.mediaType ?? 'video/mp2t',
      chunkSize: opts.chunkSize ?? DEFAULT_CHUNK_SIZE,
      windowChunks: opts.windowChunks ?? DEFAULT_WINDOW_CHUNKS,
      nowMs: Date.now(),
    });
    const swarm = this.track(LiveSwarm.source(descriptor, (d) => node.identity.sign(d), this.context(''), this.options));
    await this.signalling.joinSwarm(swarm.swarmId, { live: true });
    return swarm;
  }

  /** Is swarm `swarmId` a live channel, as its members in the tracker say? */
  async isLive(swarmId: string): Promise<boolean> {
    if (this.swarms.has(swarmId)) return true;
    const members = await this.signalling.refreshMembers(swarmId).catch(() => []);
    return members.some((m) => m.live === true);
  }

  /** Watches channel `swarmId` (the one running here already, if any). */
  async watch(swarmId: string): Promise<{ swarm: LiveSwarm; started: boolean }> {
    const id = parseSwarmId(swarmId);
    const running = this.swarms.get(id);
    if (running) return { swarm: running, started: false };
    this.checkRoom();
    await this.signalling.joinSwarm(id, { live: true });
    return { swarm: this.track(LiveSwarm.viewer(id, this.context(id), this.options)), started: true };
  }

  async stop(swarmId: string): Promise<boolean> {
    const swarm = this.swarms.get(swarmId);
    if (!swarm) return false;
    await swarm.stop();
    return true;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.list().map((s) => s.stop()));
  }

  private hostFor(swarmId: string, peer: string): LiveSessionHost | undefined {
    const swarm = this.swarms.get(swarmId);
    return swarm?.accepts(peer) ? swarm : undefined;
  }

  private track(swarm: LiveSwarm): LiveSwarm {
    this.swarms.set(swarm.swarmId, swarm);
    swarm.once('stopped', () => {
      if (this.swarms.get(swarm.swarmId) === swarm) this.swarms.delete(swarm.swarmId);
      void this.signalling.leaveSwarm(swarm.swarmId).catch(() => undefined);
    });
    return swarm;
  }

  private checkRoom(): void {
    if (this.swarms.size >= MAX_LIVE_CHANNELS) throw new ReloadError(ErrorCode.Forbidden, `this node holds ${MAX_LIVE_CHANNELS} live channels already; stop one first`, 'too_many_channels');
  }

  private context(swarmId: string): LiveContext {
    const node = this.node();
    return {
      localNodeId: node.nodeIdHex,
      peers: swarmId ? () => this.peers(swarmId) : undefined,
      connect: (peer, host) => this.data.connectLive(peer, host),
      random: node.random.next,
      checkCertificate: (der) => {
        const cert = node.trust.verify(der, Date.now());
        return { publicKey: cert.publicKey, nodeIdHex: cert.identity.nodeIdHex };
      },
    };
  }
}
