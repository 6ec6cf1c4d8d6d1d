/**
 * The upload side of one swarm: REQUESTs and HASHES_REQUESTs served through the choker (seed §4.3:
 * a choked peer's request is recorded and it is told CHOKE; it asks again after UNCHOKE), a rechoke
 * every period from the rates each way, and the swarm's upload limit beside the node's.
 */
import { ErrorCode, ReloadError, type Clock } from '../../../overlay/index.js';
import type { Availability } from '../content/availability.js';
import type { LeafHashes } from '../content/leaf-hashes.js';
import { DEFAULT_HASHES_PER_FRAME } from '../content/leaf-hashes.js';
import { Choker, type ChokeChange, type PeerRates } from './choker.js';
import type { PeerSession } from './peer-session.js';
import { RateLimit, TokenBucket } from './rate-limit.js';
import type { SwarmSessions } from './swarm-sessions.js';
import { UPLOAD_RUN_SECONDS, type SwarmContext, type SwarmOptions, type SwarmStats } from './swarm-options.js';

export class SwarmUploader {
  private readonly choker: Choker<string>;
  private lastRechoke = new Map<string, { up: number; down: number }>();
  private lastRechokeMs: number;
  private readonly bucket: TokenBucket;
  private readonly limit: RateLimit;

  constructor(
    private readonly sessions: SwarmSessions,
    private readonly stats: SwarmStats,
    private readonly options: SwarmOptions,
    ctx: SwarmContext,
    private readonly clock: Clock,
  ) {
    this.choker = new Choker({ slots: options.uploadSlots, rng: ctx.random });
    this.lastRechokeMs = clock.now();
    this.bucket = new TokenBucket(options.uploadLimit ?? 0, clock);
    this.limit = new RateLimit(ctx.nodeLimits ? [this.bucket, ctx.nodeLimits.upload] : [this.bucket]);
  }

  /** Serves chunks first..last that we hold, if `session` is unchoked (it is unchoked now if a slot is free). */
  onRequest(session: PeerSession, first: number, last: number, have: Availability | undefined): void {
    if (!have) throw new ReloadError(ErrorCode.Not_Found, 'no chunks to serve yet', 'not_ready');
    const peer = session.remoteNodeId;
    if (!this.choker.isUnchoked(peer)) this.apply(this.choker.interested(peer));
    // Still choked: the CHOKE just sent says "recorded; ask again after UNCHOKE" (seed §4.3).
    if (!this.choker.isUnchoked(peer)) return;
    const held: number[] = [];
    for (let c = first; c <= last; c++) if (have.has(c)) held.push(c);
    session.queueUploads(held);
  }

  onHashesRequest(session: PeerSession, first: number, last: number, leaves: LeafHashes | undefined): void {
    if (!leaves) throw new ReloadError(ErrorCode.Not_Found, 'leaf hashes not known yet', 'not_ready');
    // One answer per request, so a peer cannot make us queue the whole list with one message.
    const per = this.options.hashesPerFrame ?? DEFAULT_HASHES_PER_FRAME;
    if (last - first + 1 > per) throw new ReloadError(ErrorCode.Forbidden, `at most ${per} leaf hashes per request`, 'too_many_hashes');
    // An unaligned range is refused (Invalid_Message): its proof would not be one subtree's.
    const uncles = leaves.uncles(first, last);
    session.send({ type: 'hashes', first, hashes: leaves.slice(first, last), uncles });
  }

  /** A peer that holds everything we could give it no longer needs an upload slot. */
  checkInterest(session: PeerSession): void {
    if (session.remote?.isComplete) this.apply(this.choker.notInterested(session.remoteNodeId));
  }

  peerGone(peer: string): void {
    this.apply(this.choker.peerGone(peer));
  }

  rechoke(seeding: boolean): void {
    const now = this.clock.now();
    const seconds = Math.max(0.001, (now - this.lastRechokeMs) / 1000);
    const rates = new Map<string, PeerRates>();
    const seen = new Map<string, { up: number; down: number }>();
    for (const peer of this.sessions.ids()) {
      const up = this.sessions.uploadedTo(peer);
      const down = this.sessions.downloadedFrom(peer);
      const before = this.lastRechoke.get(peer) ?? { up: 0, down: 0 };
      rates.set(peer, { toPeer: (up - before.up) / seconds, fromPeer: (down - before.down) / seconds });
      seen.set(peer, { up, down });
    }
    this.lastRechoke = seen;
    this.lastRechokeMs = now;
    this.apply(this.choker.rechoke(now, { rates, seeding }));
  }

  /** This swarm's upload limit, bytes/s (0: none). */
  get rate(): number {
    return this.bucket.rate;
  }

  set rate(bytesPerSec: number) {
    this.bucket.rate = bytesPerSec;
  }

  /** Sessions waiting for the limits look again (see Swarm.limitsChanged). */
  limitsChanged(): void {
    for (const s of this.sessions.values()) s.resumeUploads();
  }

  /** Chunks one upload run may take: about UPLOAD_RUN_SECONDS of the limit, so a seek's request waits behind little. */
  runChunks(chunkSize: number): number {
    const rate = this.limit.rate;
    return rate === 0 ? Infinity : Math.max(1, Math.floor((rate * UPLOAD_RUN_SECONDS) / chunkSize));
  }

  /** Ms until the limits let a session send again; a session waits that long on one timer (counted as throttled). */
  wait(): number {
    const ms = this.limit.delay();
    this.stats.uploadThrottledMs += ms;
    return ms;
  }

  /** Takes `bytes` about to be sent from the limits. */
  charge(bytes: number): void {
    this.limit.charge(bytes);
  }

  private apply(changes: ChokeChange<string>[]): void {
    for (const { peer, message } of changes) {
      const s = this.sessions.get(peer);
      if (!s) continue;
      if (message === 'choke') {
        s.dropUploads();
        this.stats.chokesSent++;
        this.stats.choked.add(peer);
      } else this.stats.unchokesSent++;
      s.send({ type: message });
    }
    this.stats.maxUnchoked = Math.max(this.stats.maxUnchoked, this.choker.unchoked().length);
  }
}
