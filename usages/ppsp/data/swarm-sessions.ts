/**
 * The data sessions of one swarm: finding members (the injected peer source, asked at most every
 * redial interval) and dialling them (at most `maxPeers` at once, in random order, a failed one not
 * again before its backoff), one session per peer (when both sides dial, the channel dialled by the smaller
 * Node-ID stays, on both ends alike), and what each peer sent and received over the swarm's life,
 * closed sessions included.
 */
import { shuffled, type Clock, type Logger } from '../../../overlay/index.js';
import type { PeerSession } from './peer-session.js';
import { DEFAULT_MAX_PEERS, DEFAULT_REDIAL_INTERVAL_MS, MAX_PEER_ERRORS, type PeerRef, type SwarmStats } from './swarm-options.js';

/** What the sessions of a swarm, static or live, have in common here. */
export interface ChannelSession {
  readonly remoteNodeId: string;
  /** We dialled it. */
  readonly initiator: boolean;
  readonly remoteError: string | undefined;
  readonly stats: { bytesUp: number; bytesDown: number };
  close(): void;
  fail(error: unknown): void;
}

/** How a swarm's sessions find and reach members. */
export interface SessionDialling {
  localNodeId: string;
  /** Opens a data channel to a Node-ID with a session of this swarm on it (rejects if it cannot be reached). */
  connect(nodeId: string): Promise<void>;
  /** Members to try; a seeder may have none and only answer. */
  peers?: () => Promise<PeerRef[]>;
}

/** The counters the sessions keep, a part of a swarm's stats. */
export type SessionStats = Pick<SwarmStats, 'uploadedTo' | 'downloadedFrom' | 'banned' | 'peerErrors'>;

/** The longest a failing peer waits for its next dial (ms). */
export const MAX_REDIAL_BACKOFF_MS = 30_000;
/** Peers whose dial failures are remembered at most. */
const MAX_DIAL_FAILURES_KEPT = 1024;

export class SwarmSessions<S extends ChannelSession = PeerSession> {
  private readonly sessions = new Map<string, S>();
  private readonly dialling = new Set<string>();
  /** Per peer: when our last dial failed and how many failed in a row (bounded, oldest dropped). */
  private readonly dialFailures = new Map<string, { at: number; count: number }>();
  private lastPeersAsk = -Infinity;
  private asking = false;

  constructor(
    private readonly ctx: SessionDialling,
    private readonly stats: SessionStats,
    private readonly options: { maxPeers?: number; redialIntervalMs?: number; rng?: () => number },
    private readonly clock: Clock,
    private readonly log: Logger,
    /** A peer could not be reached: the tracker may forget it. */
    private readonly unreachable: (peer: string) => void,
  ) {}

  get size(): number {
    return this.sessions.size;
  }

  get(peer: string): S | undefined {
    return this.sessions.get(peer);
  }

  values(): IterableIterator<S> {
    return this.sessions.values();
  }

  ids(): string[] {
    return [...this.sessions.keys()];
  }

  /**
   * Takes a session whose handshake is done, and returns the peer's earlier session it replaces
   * (closed now), if any; undefined if it is a second channel that loses to the first (it is
   * closed then).
   */
  add(session: S): { replaced?: S } | undefined {
    const peer = session.remoteNodeId;
    const existing = this.sessions.get(peer);
    if (existing) {
      const keeper = this.ctx.localNodeId < peer ? this.ctx.localNodeId : peer;
      const newDialler = session.initiator ? this.ctx.localNodeId : peer;
      if (newDialler !== keeper) {
        session.close();
        return undefined;
      }
      this.retire(existing);
      existing.close();
    }
    this.sessions.set(peer, session);
    return { replaced: existing };
  }

  /** Forgets a closed session; false if it was not the peer's current one. */
  remove(session: S): boolean {
    const peer = session.remoteNodeId;
    if (this.sessions.get(peer) !== session) return false;
    if (session.remoteError !== undefined) this.rememberPeerError(peer, session.remoteError);
    this.sessions.delete(peer);
    this.retire(session);
    return true;
  }

  /** Closes every session (each with `error` if given). */
  closeAll(error?: unknown): void {
    for (const s of [...this.sessions.values()]) {
      if (error === undefined) s.close();
      else s.fail(error);
    }
  }

  /** Per peer, bytes uploaded to it over the swarm's life. */
  uploadedTo(peer: string): number {
    return (this.stats.uploadedTo.get(peer) ?? 0) + (this.sessions.get(peer)?.stats.bytesUp ?? 0);
  }

  /** Per peer, bytes downloaded from it over the swarm's life. */
  downloadedFrom(peer: string): number {
    return (this.stats.downloadedFrom.get(peer) ?? 0) + (this.sessions.get(peer)?.stats.bytesDown ?? 0);
  }

  get bytesUploaded(): number {
    let sum = 0;
    for (const peer of this.everyone()) sum += this.uploadedTo(peer);
    return sum;
  }

  get bytesDownloaded(): number {
    let sum = 0;
    for (const peer of this.everyone()) sum += this.downloadedFrom(peer);
    return sum;
  }

  /** Asks the peer source (at most every redial interval) and dials members we have no channel to. */
  discover(now: number): void {
    const redial = this.options.redialIntervalMs ?? DEFAULT_REDIAL_INTERVAL_MS;
    if (!this.ctx.peers || this.asking || now - this.lastPeersAsk < redial) return;
    this.lastPeersAsk = now;
    this.asking = true;
    this.ctx
      .peers()
      .then((refs) => {
        // In random order: members all handed the same list must not all dial the same few first.
        for (const { nodeId } of shuffled(refs, this.options.rng ?? Math.random)) {
          const peer = nodeId.toLowerCase();
          if (this.sessions.size + this.dialling.size >= (this.options.maxPeers ?? DEFAULT_MAX_PEERS)) break;
          if (peer === this.ctx.localNodeId || this.sessions.has(peer) || this.dialling.has(peer) || this.stats.banned.has(peer)) continue;
          if (now < this.redialAt(peer, redial)) continue;
          this.dial(peer);
        }
      })
      .catch((e: Error) => this.log.debug(`peer source failed: ${e.message}`))
      .finally(() => (this.asking = false));
  }

  private dial(peer: string): void {
    this.dialling.add(peer);
    this.ctx
      .connect(peer)
      .then(() => this.dialFailures.delete(peer))
      .catch((e: Error) => {
        this.dialFailed(peer);
        this.unreachable(peer);
        this.log.debug(`cannot reach ${peer.slice(0, 8)}: ${e.message}`);
      })
      .finally(() => this.dialling.delete(peer));
  }

  /**
   * A peer that failed or refused is dialled again after the redial interval, doubled for each
   * failure in a row up to MAX_REDIAL_BACKOFF_MS: a member that keeps refusing (a viewer that has no
   * descriptor yet) does not take the dials that would find one that serves.
   */
  private redialAt(peer: string, redial: number): number {
    const f = this.dialFailures.get(peer);
    return f ? f.at + Math.min(redial * 2 ** (f.count - 1), MAX_REDIAL_BACKOFF_MS) : -Infinity;
  }

  private dialFailed(peer: string): void {
    const count = (this.dialFailures.get(peer)?.count ?? 0) + 1;
    this.dialFailures.delete(peer);
    this.dialFailures.set(peer, { at: this.clock.now(), count });
    if (this.dialFailures.size > MAX_DIAL_FAILURES_KEPT) this.dialFailures.delete(this.dialFailures.keys().next().value!);
  }

  private everyone(): Set<string> {
    return new Set([...this.stats.uploadedTo.keys(), ...this.stats.downloadedFrom.keys(), ...this.sessions.keys()]);
  }

  /** Moves a closing session's byte counts into the swarm's totals. */
  private retire(session: S): void {
    const peer = session.remoteNodeId;
    this.stats.uploadedTo.set(peer, (this.stats.uploadedTo.get(peer) ?? 0) + session.stats.bytesUp);
    this.stats.downloadedFrom.set(peer, (this.stats.downloadedFrom.get(peer) ?? 0) + session.stats.bytesDown);
    // Its stats now live in the totals; zero them so a replaced session is not counted twice.
    session.stats.bytesUp = 0;
    session.stats.bytesDown = 0;
  }

  private rememberPeerError(peer: string, text: string): void {
    // Why a seeder left for good outlives what its later answers say ("unknown swarm" once it stopped).
    if (this.stats.peerErrors.get(peer)?.startsWith('seed_changed')) return;
    this.stats.peerErrors.delete(peer);
    this.stats.peerErrors.set(peer, text);
    if (this.stats.peerErrors.size > MAX_PEER_ERRORS) this.stats.peerErrors.delete(this.stats.peerErrors.keys().next().value!);
  }
}
