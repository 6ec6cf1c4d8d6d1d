/**
 * The PPSP usage as a node runs it: the signalling half (tracker in the overlay, peer lists,
 * availability, properties, transport negotiation) and the data half (Merkle-verified chunks over
 * direct TLS channels) wired together. Seeding announces the swarm in the tracker; downloading
 * finds peers in the tracker, asks them for more peers (peer exchange), and hands them to the
 * data plane, which forgets peers that went away.
 *
 * With a SwarmRecordStore the swarms seeded and downloaded here survive a restart: a seeded (or
 * downloaded) file that did not change is served again from its stored leaf hashes without being
 * read, a changed one is dropped with a warning, and a partial download resumes.
 */
import { type Clock, idFromHex, isReloadError, type LinkMechanism, type Logger, type Node, silentLogger, systemClock } from '../../overlay/index.js';
import type { Usage } from '../usage.js';
import { OverlayRelay } from './data/overlay-relay.js';
import { DEFAULT_MAX_FRAME_BYTES, PpspDataUsage, type PpspDataUsageOptions, type SeedOptions } from './data/ppsp-data-usage.js';
import { PpspSignallingUsage } from './signalling/ppsp-signalling-usage.js';
import type { PeerProperties } from './signalling/properties.js';
import { swarmMetricFamilies } from './ppsp-metrics.js';
import { fileIdentity, identityChange } from './store/seed-file-guard.js';
import { decodeRecordMetadata, decodeRecordPpspp, encodeRecordMetadata } from './store/swarm-record-codec.js';
import type { SwarmRecord, SwarmRecordStore } from './store/swarm-record-store.js';
import { parseSwarmId, type SwarmMetadata } from './content/swarm-id.js';
import { SwarmOutputs, type SwarmOutput } from './store/swarm-outputs.js';
import type { PeerRef, Swarm, SwarmOptions } from './data/swarm.js';
import { LiveChannels } from './live/live-channels.js';
import type { LiveSwarmOptions } from './live/live-swarm.js';
import { liveMetricFamilies } from './live/live-metrics.js';
import { PpsppService, type PpsppServing } from './ppspp/ppspp-service.js';
import { PpsppTransport, type PpsppTransportOptions } from './ppspp/ppspp-transport.js';
import { parseTransportAddress } from './signalling/transports.js';

/** Peers asked of each known member per peer-list request (seed §4.2.1). */
export const PEER_LIST_COUNT = 16;

/** Why swarms stopped on their own (a failed download, a changed file) are remembered for this many swarms. */
export const MAX_REMEMBERED_FAILURES = 32;

export interface PpspUsageOptions {
  properties: PeerProperties;
  data?: PpspDataUsageOptions;
  /** Where swarms are kept across restarts; without one they live in memory only. */
  records?: SwarmRecordStore;
  /** Defaults for the live channels this node broadcasts or watches. */
  live?: LiveSwarmOptions;
  /**
   * Offer the `ppspp` transport (RFC 7574 over UDP) on this address, preferred to tls for every
   * swarm that allows it (a static one, not tls-only, with chunks that fit a datagram).
   */
  ppsppTransport?: Omit<PpsppTransportOptions, 'identify' | 'onLink' | 'clock' | 'log'>;
}

/** Largest chunk the ppspp transport carries: one DATA per UDP datagram (RFC 7574 §8.6). */
export const MAX_PPSPP_TRANSPORT_CHUNK = 32 * 1024;
/** How long a peer's PPSPP address that did not answer is passed over for another transport, ms. */
const PPSPP_UNREACHABLE_MS = 60_000;
/** Unanswering PPSPP addresses remembered at most. */
const MAX_PASSED_OVER = 1024;

/** Data channels relayed through the overlay at once, and their largest frame. */
const RELAY_MAX_FRAME_BYTES = DEFAULT_MAX_FRAME_BYTES;

export class PpspUsage implements Usage {
  readonly name = 'ppsp';
  readonly data: PpspDataUsage;
  readonly signalling: PpspSignallingUsage;
  /** Live channels broadcast or watched here. */
  readonly live: LiveChannels;
  /** Files also served to plain PPSPP peers over UDP (`seed --ppspp`). */
  readonly ppspp: PpsppService;
  private node: Node | undefined;
  private relay: OverlayRelay | undefined;
  /** Data channels this node opened, by how: the NAT ladder's mechanisms, or the overlay transport. */
  readonly channelsOpened: Record<LinkMechanism | 'overlay' | 'ppspp', number> = { direct: 0, reversed: 0, punched: 0, relayed: 0, overlay: 0, ppspp: 0 };
  /** The node's PPSPP socket for our own swarms, when offered. */
  private ppsppTransport: PpsppTransport | undefined;
  /** Where seeded swarms' files are also served to plain PPSPP peers, by swarm ID. */
  private readonly ppsppServed = new Map<string, PpsppServing>();
  /** Peers' PPSPP addresses that did not answer, until when they are passed over. */
  private readonly ppsppUnreachable = new Map<string, number>();
  private readonly records: SwarmRecordStore | undefined;
  private readonly outputs = new SwarmOutputs();
  /** Swarm ID -> why it stopped without being asked to (newest last, at most MAX_REMEMBERED_FAILURES). */
  private readonly failures = new Map<string, string>();
  /** Swarms stopped by their owner (DELETE) or by our own stop: not failures, and their records go or stay as decided there. */
  private readonly stopping = new Set<string>();
  private stoppingAll = false;
  private readonly watched = new WeakSet<Swarm>();
  /** Downloads whose start (the tracker join) is under way, by swarm ID. */
  private readonly starting = new Map<string, Promise<Swarm>>();
  private readonly log: Logger;

  constructor(private readonly opts: PpspUsageOptions) {
    this.data = new PpspDataUsage(opts.data);
    this.signalling = new PpspSignallingUsage({ properties: opts.properties, reachable: (address, type) => type !== 'ppspp' || !this.passedOver(address) });
    this.signalling.setTransportPolicy((swarmId, type) => type !== 'ppspp' || this.ppsppAllowed(swarmId));
    this.records = opts.records;
    this.log = (opts.data?.log ?? silentLogger).child('ppsp');
    const log = opts.data?.log;
    this.ppspp = new PpsppService({ clock: opts.data?.clock, log: this.log });
    this.live = new LiveChannels(() => this.requireNode(), this.data, this.signalling, (id) => this.peersOf(id), { ...(log ? { log } : {}), ...opts.live });
  }

  private requireNode(): Node {
    if (!this.node) throw new Error('the PPSP usage is not attached to a node');
    return this.node;
  }

  attach(node: Node): void {
    this.node = node;
    this.data.attach(node);
    this.signalling.attach(node);
    this.signalling.setLocalAvailability((id) => this.data.availability(id));
    this.signalling.setPeerHasChunk((id, peer, chunk) => this.data.peerHasChunk(id, peer, chunk));
    node.metrics.addSource(() => swarmMetricFamilies(this.data.list(), this.data.limits));
    node.metrics.addSource(() => liveMetricFamilies(this.live.list()));
    const relay = (this.relay = new OverlayRelay(node, { maxFrameBytes: RELAY_MAX_FRAME_BYTES, onLink: (link) => this.data.acceptLink(link) }));
    // Transport negotiation (seed §4.5): the requesting peer chooses; a TLS channel when both can,
    // made by the NAT ladder (dialled, reversed, punched or through a relay), else, or when the
    // ladder fails, frames relayed through the overlay.
    this.data.setDialer(async (peer, swarmId, direct) => {
      const { transport, theirs } = await this.signalling.negotiateTransport(idFromHex(peer), swarmId);
      if (transport.type === 'ppspp' && this.ppsppTransport) {
        try {
          const link = await this.ppsppTransport.dial(peer, parseTransportAddress(transport.address), swarmId);
          this.channelsOpened.ppspp++;
          return link;
        } catch (e) {
          // Nobody answered there: passed over for a while, the next negotiation with this peer
          // takes its next transport. A peer that answered and refused is asked again as before.
          if (!isReloadError(e) || e.reason !== 'unreachable') throw e;
          if (this.ppsppUnreachable.size >= MAX_PASSED_OVER) this.ppsppUnreachable.delete(this.ppsppUnreachable.keys().next().value!);
          this.ppsppUnreachable.set(transport.address, this.clock.now() + PPSPP_UNREACHABLE_MS);
          throw e;
        }
      }
      if (transport.type === 'tls') {
        try {
          const link = await direct();
          this.channelsOpened[node.linkMechanism(link)]++;
          return link;
        } catch (e) {
          if (!theirs.some((t) => t.type === 'overlay') || !this.signalling.offers('overlay')) throw e;
          this.log.info(`no TLS data channel to ${peer} (${(e as Error).message}): relaying through the overlay`);
        }
      }
      this.channelsOpened.overlay++;
      return relay.dial(idFromHex(peer));
    });
  }

  async start(): Promise<void> {
    await this.data.start();
    this.signalling.setTlsAddress(this.data.address);
    if (this.opts.ppsppTransport) {
      this.ppsppTransport = await PpsppTransport.open({
        ...this.opts.ppsppTransport,
        identify: (swarmId, address) => this.signalling.knownPeers(swarmId).find((p) => p.transports.some((t) => t.type === 'ppspp' && t.address === address))?.nodeIdHex,
        onLink: (link) => this.data.acceptLink(link),
        clock: this.opts.data?.clock,
        log: this.log,
      });
      this.signalling.setPpsppAddress(this.ppsppTransport.address);
      this.log.info(`ppspp transport on ${this.ppsppTransport.address}`);
    }
    await this.signalling.start();
    await this.restore();
  }

  async stop(): Promise<void> {
    this.stoppingAll = true;
    for (const id of this.signalling.swarmIds()) await this.signalling.leaveSwarm(id).catch(() => undefined);
    await this.live.stopAll();
    await this.signalling.stop();
    await this.data.stop();
    await this.ppspp.stop();
    await this.ppsppTransport?.close();
    this.ppsppTransport = undefined;
    this.relay?.closeAll();
  }

  /**
   * Seeds a file and announces the swarm in the tracker; returns its metadata (the ID to share).
   * With `ppspp`, the file is also served to plain PPSPP peers on that UDP address (`ppspp` in the
   * answer: its PPSPP root hash and URL).
   */
  async seed(path: string, opts: SeedOptions & { ppspp?: { host: string; port: number } } = {}): Promise<SwarmMetadata & { ppspp?: PpsppServing }> {
    const { ppspp, ...swarmOptions } = opts;
    const meta = await this.data.seed(path, swarmOptions);
    const swarm = this.data.swarm(meta.swarmId)!;
    this.watch(swarm);
    const serving = ppspp && (await this.servePpspp(swarm, ppspp));
    this.record(swarm);
    await this.signalling.joinSwarm(meta.swarmId, { haveCount: meta.chunkCount });
    return serving ? { ...meta, ppspp: serving } : meta;
  }

  /** Serves a seeded swarm's file to plain PPSPP peers too, until the swarm stops. */
  private async servePpspp(swarm: Swarm, at: { host: string; port: number }): Promise<PpsppServing> {
    const serving = await this.ppspp.serve(swarm.path, at.host, at.port);
    this.ppsppServed.set(swarm.swarmId, serving);
    swarm.once('stopped', () => {
      this.ppsppServed.delete(swarm.swarmId);
      void this.ppspp.unserve(serving);
    });
    return serving;
  }

  /**
   * Whether swarm `swarmId`'s data may take the ppspp transport: not a live channel, and not a
   * swarm whose metadata we know to be tls-only or cut in chunks too large for a datagram. A swarm
   * whose metadata we do not know yet (a download about to start) is offered it: a channel for a
   * swarm we do not hold is refused on any transport, and the peer that holds it decides.
   */
  private ppsppAllowed(swarmId: string): boolean {
    if (this.live.get(swarmId)) return false;
    const metadata = this.data.swarm(swarmId)?.metadata;
    return !metadata || (!metadata.tlsOnly && metadata.chunkSize <= MAX_PPSPP_TRANSPORT_CHUNK);
  }

  private get clock(): Clock {
    return this.opts.data?.clock ?? systemClock;
  }

  private passedOver(address: string): boolean {
    const until = this.ppsppUnreachable.get(address);
    if (until === undefined) return false;
    if (until > this.clock.now()) return true;
    this.ppsppUnreachable.delete(address);
    return false;
  }

  /** Downloads a swarm by its ID (or verified metadata) into `out` from the peers the tracker and peer exchange find. */
  async download(target: string | SwarmMetadata, out: string, opts: SwarmOptions = {}): Promise<Swarm> {
    const id = parseSwarmId(typeof target === 'string' ? target : target.swarmId);
    await this.signalling.joinSwarm(id);
    const swarm = this.data.download(target, out, { ...opts, peers: () => this.peersOf(id) });
    this.failures.delete(id);
    swarm.on('peerGone', (peer: string) => this.signalling.forgetPeer(id, peer));
    this.watch(swarm);
    this.record(swarm);
    swarm.done.then(
      () => this.record(swarm),
      () => {},
    );
    return swarm;
  }

  /**
   * Writes swarm `swarmId` to `out`: a swarm held here already (seeded, downloaded, or downloading
   * to another path) is copied from what we hold, each chunk checked against its leaf hash, once
   * complete; any other is downloaded. `started` says whether this call started a download.
   */
  async writeTo(swarmId: string, out: string, force: boolean, opts: SwarmOptions = {}): Promise<{ swarm: Swarm; started: boolean }> {
    const id = parseSwarmId(swarmId);
    // A download being started (its tracker join is under way) is held already for a second writer.
    let held = this.swarm(id) ?? (await this.starting.get(id)?.catch(() => undefined));
    // A get into the very file the swarm was completed in is done only if that file is unchanged;
    // a changed one stops the swarm (as serving it would) and is downloaded again.
    if (held?.complete && held.path === out && !(await held.fileUnchanged())) held = undefined;
    if (!held) {
      const starting = this.download(id, out, opts);
      this.starting.set(id, starting);
      try {
        return { swarm: await starting, started: true };
      } finally {
        this.starting.delete(id);
      }
    }
    if (held.path !== out) this.outputs.add(held, out, force);
    held.setLimits(opts);
    return { swarm: held, started: false };
  }

  /** The files swarm `swarm` is written to, and whether each is written. */
  outputsOf(swarm: Swarm): SwarmOutput[] {
    return this.outputs.of(swarm);
  }

  /** The swarm with this ID, if seeded or downloaded here. */
  swarm(swarmId: string): Swarm | undefined {
    return this.data.swarm(swarmId);
  }

  /** Every swarm held here. */
  list(): Swarm[] {
    return this.data.list();
  }

  /** Why swarm `swarmId` stopped on its own, if it did lately (a failed download, a changed file). */
  failureOf(swarmId: string): string | undefined {
    return this.failures.get(parseSwarmId(swarmId));
  }

  /**
   * Stops a swarm on the owner's request: its sessions close, a partial download stays on disk for
   * a resume, a seeder stops serving, and it is no longer kept across restarts. False if not held.
   */
  async stopSwarm(swarmId: string): Promise<boolean> {
    const swarm = this.swarm(swarmId);
    if (!swarm) return false;
    this.stopping.add(swarm.swarmId);
    try {
      await swarm.stop();
    } finally {
      this.stopping.delete(swarm.swarmId);
    }
    this.records?.delete(swarm.swarmId);
    return true;
  }

  /** Once a swarm stops: leave its tracker entry, forget its outputs, and note why if it was not asked to. */
  private watch(swarm: Swarm): void {
    if (this.watched.has(swarm)) return; // seeded twice
    this.watched.add(swarm);
    swarm.once('stopped', () => {
      const id = swarm.swarmId;
      this.outputs.forget(id);
      if (this.stoppingAll) return;
      void this.signalling.leaveSwarm(id).catch(() => undefined);
      if (this.stopping.has(id)) return;
      // Stopped on its own: a download that cannot write its file, a seeded file that changed.
      this.records?.delete(id);
      this.failures.delete(id);
      this.failures.set(id, swarm.stoppedBecause ?? 'it stopped');
      if (this.failures.size > MAX_REMEMBERED_FAILURES) this.failures.delete(this.failures.keys().next().value!);
    });
  }

  /** Puts the swarm's record in the store (if any): what a restart needs to serve or resume it. */
  private record(swarm: Swarm): void {
    if (!this.records || swarm.stopped) return;
    const served = this.ppsppServed.get(swarm.swarmId);
    const metadata = encodeRecordMetadata(swarm.metadata, served && parseTransportAddress(served.address, 'ppspp'));
    const record: SwarmRecord = { swarmId: swarm.swarmId, role: swarm.role, path: swarm.path, metadata };
    if (swarm.complete && swarm.leafHashes && swarm.fileIdentity) Object.assign(record, { leafHashes: swarm.leafHashes, file: swarm.fileIdentity });
    try {
      this.records.put(record);
    } catch (e) {
      this.log.warn(`cannot keep swarm ${swarm.swarmId} across restarts: ${(e as Error).message}`);
    }
  }

  /** Serves or resumes every stored swarm (start). One bad record is logged and skipped. */
  private async restore(): Promise<void> {
    for (const record of this.records?.load() ?? []) {
      try {
        await this.restoreOne(record);
      } catch (e) {
        this.log.warn(`cannot restore swarm ${record.swarmId} (${record.path}): ${(e as Error).message}`);
      }
    }
  }

  private async restoreOne(record: SwarmRecord): Promise<void> {
    const metadata = decodeRecordMetadata(record.swarmId, record.metadata);
    if (!record.leafHashes || !record.file || !metadata) {
      if (record.role === 'download') await this.download(metadata ?? record.swarmId, record.path);
      else this.records!.delete(record.swarmId);
      return;
    }
    const now = await fileIdentity(record.path).catch((e: NodeJS.ErrnoException) => e);
    const change = now instanceof Error ? `cannot stat it (${now.code ?? now.message})` : identityChange(record.file, now);
    if (change) {
      this.records!.delete(record.swarmId);
      this.log.warn(`not serving swarm ${record.swarmId} again: ${record.path} changed since it was hashed (${change}); seed it again to share it`);
      return;
    }
    const swarm = await this.data.serve(record.path, { metadata, leafHashes: record.leafHashes }, record.file);
    this.watch(swarm);
    await this.signalling.joinSwarm(record.swarmId, { haveCount: metadata.chunkCount });
    this.log.info(`serving swarm ${record.swarmId} (${record.path}) again, unchanged since it was hashed`);
    const ppspp = decodeRecordPpspp(record.swarmId, record.metadata);
    if (ppspp) {
      const serving = await this.servePpspp(swarm, ppspp).catch((e: Error) => void this.log.warn(`not serving ${record.path} over PPSPP on ${ppspp.host}:${ppspp.port} again: ${e.message}`));
      if (serving) this.log.info(`serving ${record.path} over PPSPP again: ${serving.url}`);
    }
  }

  /** Members from the tracker, then more from the members we know (peer exchange). */
  private async peersOf(swarmId: string): Promise<PeerRef[]> {
    const self = this.node?.nodeIdHex;
    const known = new Map<string, PeerRef>();
    const add = (hex: string) => hex !== self && known.set(hex, { nodeId: hex });
    for (const m of await this.signalling.refreshMembers(swarmId).catch(() => this.signalling.knownPeers(swarmId))) add(m.nodeIdHex);
    // Peer exchange with a few members at once: one round trip, not one after another, before the first dial.
    const lists = await Promise.all([...this.signalling.knownPeers(swarmId)].slice(0, 4).map((m) => this.signalling.peerList(m.nodeId, swarmId, PEER_LIST_COUNT).catch(() => [])));
    for (const p of lists.flat()) add(p.nodeIdHex);
    return [...known.values()];
  }
}
