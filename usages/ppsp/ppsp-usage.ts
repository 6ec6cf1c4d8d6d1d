/**
 * The PPSP usage as a node runs it: the signalling half (tracker in the overlay, peer lists,
 * availability, properties, transport negotiation) and the data half (Merkle-verified chunks over
 * direct TLS channels) wired together. Seeding announces the swarm in the tracker; downloading
 * finds peers in the tracker, asks them for more peers (peer exchange), and hands them to the
 * data plane, which forgets peers that went away.
 */
import type { Node } from '../../overlay/node.js';
import type { Usage } from '../usage.js';
import { idFromHex } from '../../overlay/id.js';
import { OverlayRelay } from './overlay-relay.js';
import { DEFAULT_MAX_FRAME_BYTES, PpspDataUsage, type PpspDataUsageOptions } from './ppsp-data-usage.js';
import { PpspSignallingUsage } from './ppsp-signalling-usage.js';
import type { PeerProperties } from './properties.js';
import { parseSwarmId, type SwarmMetadata } from './swarm-id.js';
import type { PeerRef, Swarm, SwarmOptions } from './swarm.js';

/** Peers asked of each known member per peer-list request (seed §4.2.1). */
export const PEER_LIST_COUNT = 16;

export interface PpspUsageOptions {
  properties: PeerProperties;
  data?: PpspDataUsageOptions;
}

/** Data channels relayed through the overlay at once, and their largest frame. */
const RELAY_MAX_FRAME_BYTES = DEFAULT_MAX_FRAME_BYTES;

export class PpspUsage implements Usage {
  readonly name = 'ppsp';
  readonly data: PpspDataUsage;
  readonly signalling: PpspSignallingUsage;
  private node: Node | undefined;
  private relay: OverlayRelay | undefined;
  /** Channels opened by relay (for status and tests). */
  relayedChannels = 0;

  constructor(opts: PpspUsageOptions) {
    this.data = new PpspDataUsage(opts.data);
    this.signalling = new PpspSignallingUsage({ properties: opts.properties });
  }

  attach(node: Node): void {
    this.node = node;
    this.data.attach(node);
    this.signalling.attach(node);
    this.signalling.setLocalAvailability((id) => this.data.availability(id));
    this.signalling.setPeerHasChunk((id, peer, chunk) => this.data.peerHasChunk(id, peer, chunk));
    const relay = (this.relay = new OverlayRelay(node, { maxFrameBytes: RELAY_MAX_FRAME_BYTES, onLink: (link) => this.data.acceptLink(link) }));
    // Transport negotiation (seed §4.5): the requesting peer chooses; a direct TLS channel when both
    // can, else frames relayed through the overlay.
    this.data.setDialer(async (peer, swarmId, direct) => {
      const { transport } = await this.signalling.negotiateTransport(idFromHex(peer), swarmId);
      if (transport.type === 'tls') return direct();
      this.relayedChannels++;
      return relay.dial(idFromHex(peer));
    });
  }

  async start(): Promise<void> {
    await this.data.start();
    this.signalling.setTlsAddress(this.data.address);
    await this.signalling.start();
  }

  async stop(): Promise<void> {
    for (const id of this.signalling.swarmIds()) await this.signalling.leaveSwarm(id).catch(() => undefined);
    await this.signalling.stop();
    await this.data.stop();
    this.relay?.closeAll();
  }

  /** Seeds a file and announces the swarm in the tracker; returns its metadata (the ID to share). */
  async seed(path: string, opts: SwarmOptions & { chunkSize?: number } = {}): Promise<SwarmMetadata> {
    const meta = await this.data.seed(path, opts);
    await this.signalling.joinSwarm(meta.swarmId, { haveCount: meta.chunkCount });
    return meta;
  }

  /** Downloads a swarm by its ID into `out` from the peers the tracker and peer exchange find. */
  async download(swarmId: string, out: string, opts: SwarmOptions = {}): Promise<Swarm> {
    const id = parseSwarmId(swarmId);
    await this.signalling.joinSwarm(id);
    const swarm = this.data.download(id, out, { ...opts, peers: () => this.peersOf(id) });
    swarm.on('peerGone', (peer: string) => this.signalling.forgetPeer(id, peer));
    return swarm;
  }

  /** The swarm with this ID, if seeded or downloaded here. */
  swarm(swarmId: string): Swarm | undefined {
    return this.data.swarm(swarmId);
  }

  /** Members from the tracker, then more from the members we know (peer exchange). */
  private async peersOf(swarmId: string): Promise<PeerRef[]> {
    const self = this.node?.nodeIdHex;
    const known = new Map<string, PeerRef>();
    const add = (hex: string) => hex !== self && known.set(hex, { nodeId: hex });
    for (const m of await this.signalling.refreshMembers(swarmId).catch(() => this.signalling.knownPeers(swarmId))) add(m.nodeIdHex);
    for (const m of [...this.signalling.knownPeers(swarmId)].slice(0, 4)) {
      const more = await this.signalling.peerList(m.nodeId, swarmId, PEER_LIST_COUNT).catch(() => []);
      for (const p of more) add(p.nodeIdHex);
    }
    return [...known.values()];
  }
}
