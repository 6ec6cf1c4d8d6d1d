/**
 * Which chunks a live viewer asks for, and of whom: by deadline, closest to playback first, from the
 * next chunk to play up to a bounded prefetch ahead of it (never past what peers hold). Each chunk
 * goes to the holder with the least in flight to it (ties: the one that answers fastest); while the
 * deadline is still far, a holder other than the source is preferred, so the source serves few
 * viewers and viewers forward to each other. A request that is late against its peer's usual answer
 * time is asked of a second holder only when the chunk's deadline is near (the only duplicates); a
 * request unanswered for `requestTimeoutMs` is withdrawn and asked elsewhere. A late request whose
 * chunk no other peer holds is sent again to the same peer.
 */
import type { LiveSession } from './live-session.js';

/** Peers a chunk is asked of at once at most (the first request and late duplicates). */
const MAX_ASKED = 3;

export interface LiveSchedulerOptions {
  /** Requests in flight to one peer at most. */
  perPeerInFlight: number;
  /** Time to a chunk's deadline under which it is urgent: duplicates allowed, the source asked too. */
  urgentMs: number;
  /** A request older than this (at least) and older than twice its peer's usual answer time is late. */
  lateFloorMs: number;
  requestTimeoutMs: number;
}

/** What the scheduler reads from its swarm. */
export interface LiveSchedulerView {
  has(index: number): boolean;
  /** Local time chunk `index` is due, undefined before playback began. */
  deadline(index: number): number | undefined;
  /** Node-ID of the source (its sessions are asked last while there is time). */
  readonly sourceId: string | undefined;
}

export class LiveScheduler {
  /** Smoothed answer time per peer, ms. */
  private readonly answerMs = new Map<string, number>();
  /** Requests sent, re-sent as duplicates, and withdrawn after the timeout. */
  readonly counts = { requests: 0, duplicates: 0, timeouts: 0 };

  constructor(private readonly options: LiveSchedulerOptions) {}

  /** A chunk came from `peer`, asked `ms` ago. */
  answered(peer: string, ms: number): void {
    const before = this.answerMs.get(peer);
    this.answerMs.set(peer, before === undefined ? ms : before * 0.8 + ms * 0.2);
  }

  forget(peer: string): void {
    this.answerMs.delete(peer);
  }

  /**
   * Sends the requests that are due now over `sessions`, for chunks `from`..`newest` but at most
   * `prefetchChunks` past `from`.
   */
  schedule(now: number, from: number, newest: number, prefetchChunks: number, sessions: LiveSession[], view: LiveSchedulerView): void {
    const o = this.options;
    const open = sessions.filter((s) => s.ready && !s.chokedByRemote);
    if (open.length === 0 || from > newest) return;
    const batches = new Map<LiveSession, number[]>();
    const load = (s: LiveSession) => s.requested.size + (batches.get(s)?.length ?? 0);
    const to = Math.min(newest, from + prefetchChunks);
    for (let c = from; c <= to; c++) {
      if (view.has(c)) continue;
      const deadline = view.deadline(c);
      const urgent = deadline === undefined || deadline - now < o.urgentMs;
      const askedOf = open.filter((s) => s.requested.has(c));
      for (const s of askedOf) {
        if (now - s.requested.get(c)! > o.requestTimeoutMs) {
          s.cancel(c);
          this.counts.timeouts++;
        }
      }
      const pending = askedOf.filter((s) => s.requested.has(c));
      // Asked already: again only near the deadline, once every request out is late, a few times at most.
      if (pending.length > 0 && !(urgent && pending.length < MAX_ASKED && pending.every((s) => this.isLate(s, c, now)))) continue;
      const holders = open.filter((s) => s.remote.has(c) && !s.requested.has(c));
      // A late request with no other holder is asked again of the same peer: it may have been lost.
      const peer = holders.length === 0 ? pending[0] : this.best(holders, urgent, view.sourceId, load);
      if (!peer) continue;
      if (pending.length > 0) this.counts.duplicates++;
      this.counts.requests++;
      let batch = batches.get(peer);
      if (!batch) batches.set(peer, (batch = []));
      batch.push(c);
    }
    for (const [s, chunks] of batches) s.request(chunks);
  }

  private isLate(s: LiveSession, chunk: number, now: number): boolean {
    const usual = this.answerMs.get(s.remoteNodeId) ?? this.options.lateFloorMs;
    return now - s.requested.get(chunk)! > Math.max(this.options.lateFloorMs, 2 * usual);
  }

  /**
   * The holder to ask: the least loaded with room, fastest first on a tie. While the deadline is far
   * the source is left out whenever a viewer holds the chunk, even one with no room now (it will have
   * some soon); near the deadline anyone with room will do.
   */
  private best(holders: LiveSession[], urgent: boolean, sourceId: string | undefined, load: (s: LiveSession) => number): LiveSession | undefined {
    const others = holders.filter((s) => s.remoteNodeId !== sourceId);
    const pool = (urgent || others.length === 0 ? holders : others).filter((s) => load(s) < this.options.perPeerInFlight);
    let best: LiveSession | undefined;
    for (const s of pool) {
      if (!best) best = s;
      else if (load(s) !== load(best)) best = load(s) < load(best) ? s : best;
      // A peer not asked yet counts as fast: it gets a chance to show what it does.
      else if ((this.answerMs.get(s.remoteNodeId) ?? 0) < (this.answerMs.get(best.remoteNodeId) ?? 0)) best = s;
    }
    return best;
  }

}
