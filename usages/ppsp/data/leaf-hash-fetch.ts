/**
 * Fetching a download's leaf hashes (leaf-hashes.ts): every leaf hash is asked of one peer that
 * advertised availability (so it holds them), in HASHES_REQUEST ranges of at most
 * `hashesPerFrame`, and the list is accepted only if it rebuilds the swarm's root. A peer whose list
 * does not is a liar (`lied`), one that stops answering is dropped after the request timeout; either
 * way the next peer is asked.
 */
import { ErrorCode, invalidMessage, ReloadError, type Clock } from '../../../overlay/index.js';
import { DEFAULT_HASHES_PER_FRAME, hashRanges, LeafHashCollector, LeafHashes } from '../content/leaf-hashes.js';
import type { SwarmMetadata } from '../content/swarm-id.js';
import type { PeerSession } from './peer-session.js';

export interface LeafHashFetchEvents {
  /** The whole list, checked against the root. */
  verified(leaves: LeafHashes): void;
  /** `session` sent a list that does not rebuild the root. */
  lied(session: PeerSession, why: unknown): void;
}

export class LeafHashFetch {
  private source: PeerSession | undefined;
  private collector: LeafHashCollector | undefined;
  private askedAtMs = 0;
  private done = false;

  constructor(
    private readonly metadata: SwarmMetadata,
    private readonly options: { hashesPerFrame?: number; timeoutMs: number },
    private readonly clock: Clock,
    private readonly events: LeafHashFetchEvents,
  ) {}

  /** Asks one of `sessions` that advertised availability, unless a peer is asked already or all is known. */
  ask(sessions: Iterable<PeerSession>): void {
    if (this.done || this.source) return;
    if (this.metadata.chunkCount === 0) return this.finish(LeafHashes.verified(this.metadata, new Uint8Array(0)));
    const source = [...sessions].find((s) => s.ready && s.remote !== undefined);
    if (!source) return;
    this.source = source;
    this.askedAtMs = this.clock.now();
    this.collector = new LeafHashCollector(this.metadata);
    for (const r of hashRanges(this.metadata.chunkCount, this.options.hashesPerFrame ?? DEFAULT_HASHES_PER_FRAME)) source.send({ type: 'hashesRequest', ...r });
  }

  onHashes(session: PeerSession, first: number, hashes: Uint8Array, sessions: Iterable<PeerSession>): void {
    if (session !== this.source || !this.collector) throw invalidMessage('leaf hashes that were not asked for', 'unexpected_hashes');
    this.collector.add(first, hashes);
    this.askedAtMs = this.clock.now();
    if (!this.collector.complete) return;
    const collector = this.collector;
    this.source = undefined;
    this.collector = undefined;
    let leaves: LeafHashes;
    try {
      leaves = collector.finish();
    } catch (e) {
      // A list that does not rebuild the root is a lie: the peer is dropped like one with a bad chunk.
      this.events.lied(session, e);
      this.ask(sessions);
      return;
    }
    this.finish(leaves);
  }

  /** A peer that stops answering for the leaf hashes is dropped (its departure asks another). */
  tick(now: number): void {
    if (this.source && now - this.askedAtMs >= this.options.timeoutMs) {
      this.source.fail(new ReloadError(ErrorCode.Request_Timeout, 'no leaf hashes in time', 'hashes_timeout'));
    }
  }

  /** `session` closed: if it was being asked, ask another of `sessions`. */
  gone(session: PeerSession, sessions: Iterable<PeerSession>): void {
    if (this.source !== session) return;
    this.source = undefined;
    this.collector = undefined;
    this.ask(sessions);
  }

  private finish(leaves: LeafHashes): void {
    this.done = true;
    this.events.verified(leaves);
  }
}
